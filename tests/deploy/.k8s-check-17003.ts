import type { IStatefulSet as T0 } from "kubernetes-models/apps/v1/StatefulSet";
import type { IStatefulSet as T1 } from "kubernetes-models/apps/v1/StatefulSet";
import type { INetworkPolicy as T2 } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IStatefulSet as T3 } from "kubernetes-models/apps/v1/StatefulSet";
import type { IStatefulSet as T4 } from "kubernetes-models/apps/v1/StatefulSet";
// /tmp/cdr-it.CMwyBe/typo.yaml
export const doc0: T0 = {
  "apiVersion": "apps/v1",
  "kind": "StatefulSet",
  "metadata": {
    "name": "cdr",
    "labels": {
      "app.kubernetes.io/name": "cdr"
    }
  },
  "spec": {
    "serviceName": "cdr-headless",
    "replcas": 1,
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {
      "type": "OnDelete"
    },
    "selector": {
      "matchLabels": {
        "app.kubernetes.io/name": "cdr"
      }
    },
    "template": {
      "metadata": {
        "labels": {
          "app.kubernetes.io/name": "cdr"
        }
      },
      "spec": {
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
          "runAsNonRoot": true,
          "runAsUser": 10001,
          "runAsGroup": 10001,
          "fsGroup": 10001,
          "seccompProfile": {
            "type": "RuntimeDefault"
          }
        },
        "initContainers": [
          {
            "name": "init-room",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "init"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_ROOM_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ROOM_NAME"
                  }
                }
              },
              {
                "name": "CDR_ATTESTATION",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ATTESTATION"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              }
            ]
          }
        ],
        "containers": [
          {
            "name": "cdrd",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "serve"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_LISTEN",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "LISTEN"
                  }
                }
              },
              {
                "name": "CDR_TLS_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "TLS_NAME"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "ports": [
              {
                "name": "api",
                "containerPort": 8443,
                "protocol": "TCP"
              }
            ],
            "readinessProbe": {
              "httpGet": {
                "path": "/v1/ready",
                "port": "api",
                "scheme": "HTTPS"
              },
              "periodSeconds": 10
            },
            "livenessProbe": {
              "httpGet": {
                "path": "/v1/health",
                "port": "api",
                "scheme": "HTTPS"
              },
              "initialDelaySeconds": 30,
              "periodSeconds": 30
            },
            "resources": {
              "requests": {
                "cpu": "500m",
                "memory": "1Gi"
              },
              "limits": {
                "memory": "4Gi"
              }
            },
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              },
              {
                "name": "tmp",
                "mountPath": "/tmp"
              }
            ]
          }
        ],
        "volumes": [
          {
            "name": "tmp",
            "emptyDir": {
              "medium": "Memory",
              "sizeLimit": "64Mi"
            }
          }
        ]
      }
    },
    "volumeClaimTemplates": [
      {
        "metadata": {
          "name": "room"
        },
        "spec": {
          "accessModes": [
            "ReadWriteOnce"
          ],
          "resources": {
            "requests": {
              "storage": "10Gi"
            }
          }
        }
      }
    ]
  }
};
// /tmp/cdr-it.CMwyBe/typo2.yaml
export const doc1: T1 = {
  "apiVersion": "apps/v1",
  "kind": "StatefulSet",
  "metadata": {
    "name": "cdr",
    "labels": {
      "app.kubernetes.io/name": "cdr"
    }
  },
  "spec": {
    "serviceName": "cdr-headless",
    "replicas": 1,
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {
      "type": "OnDelete"
    },
    "selector": {
      "matchLabels": {
        "app.kubernetes.io/name": "cdr"
      }
    },
    "template": {
      "metadata": {
        "labels": {
          "app.kubernetes.io/name": "cdr"
        }
      },
      "spec": {
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
          "runAsNonRoot": true,
          "runAsUser": 10001,
          "runAsGroup": 10001,
          "fsGroup": 10001,
          "seccompProfile": {
            "type": "RuntimeDefault"
          }
        },
        "initContainers": [
          {
            "name": "init-room",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "init"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_ROOM_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ROOM_NAME"
                  }
                }
              },
              {
                "name": "CDR_ATTESTATION",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ATTESTATION"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesytem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              }
            ]
          }
        ],
        "containers": [
          {
            "name": "cdrd",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "serve"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_LISTEN",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "LISTEN"
                  }
                }
              },
              {
                "name": "CDR_TLS_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "TLS_NAME"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "ports": [
              {
                "name": "api",
                "containerPort": 8443,
                "protocol": "TCP"
              }
            ],
            "readinessProbe": {
              "httpGet": {
                "path": "/v1/ready",
                "port": "api",
                "scheme": "HTTPS"
              },
              "periodSeconds": 10
            },
            "livenessProbe": {
              "httpGet": {
                "path": "/v1/health",
                "port": "api",
                "scheme": "HTTPS"
              },
              "initialDelaySeconds": 30,
              "periodSeconds": 30
            },
            "resources": {
              "requests": {
                "cpu": "500m",
                "memory": "1Gi"
              },
              "limits": {
                "memory": "4Gi"
              }
            },
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesytem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              },
              {
                "name": "tmp",
                "mountPath": "/tmp"
              }
            ]
          }
        ],
        "volumes": [
          {
            "name": "tmp",
            "emptyDir": {
              "medium": "Memory",
              "sizeLimit": "64Mi"
            }
          }
        ]
      }
    },
    "volumeClaimTemplates": [
      {
        "metadata": {
          "name": "room"
        },
        "spec": {
          "accessModes": [
            "ReadWriteOnce"
          ],
          "resources": {
            "requests": {
              "storage": "10Gi"
            }
          }
        }
      }
    ]
  }
};
// /tmp/cdr-it.CMwyBe/enum.yaml
export const doc2: T2 = {
  "apiVersion": "networking.k8s.io/v1",
  "kind": "NetworkPolicy",
  "metadata": {
    "name": "cdr",
    "labels": {
      "app.kubernetes.io/name": "cdr"
    }
  },
  "spec": {
    "podSelector": {
      "matchLabels": {
        "app.kubernetes.io/name": "cdr"
      }
    },
    "policyTypes": [
      "Ingress",
      "Egress"
    ],
    "ingress": [
      {
        "ports": [
          {
            "port": 8443,
            "protocol": "TCPX"
          }
        ]
      }
    ],
    "egress": []
  }
};
// /tmp/cdr-it.CMwyBe/req.yaml
export const doc3: T3 = {
  "apiVersion": "apps/v1",
  "kind": "StatefulSet",
  "metadata": {
    "name": "cdr",
    "labels": {
      "app.kubernetes.io/name": "cdr"
    }
  },
  "spec": {
    "serviceName": "cdr-headless",
    "replicas": 1,
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {
      "type": "OnDelete"
    },
    "template": {
      "metadata": {
        "labels": {
          "app.kubernetes.io/name": "cdr"
        }
      },
      "spec": {
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
          "runAsNonRoot": true,
          "runAsUser": 10001,
          "runAsGroup": 10001,
          "fsGroup": 10001,
          "seccompProfile": {
            "type": "RuntimeDefault"
          }
        },
        "initContainers": [
          {
            "name": "init-room",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "init"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_ROOM_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ROOM_NAME"
                  }
                }
              },
              {
                "name": "CDR_ATTESTATION",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ATTESTATION"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              }
            ]
          }
        ],
        "containers": [
          {
            "name": "cdrd",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "serve"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_LISTEN",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "LISTEN"
                  }
                }
              },
              {
                "name": "CDR_TLS_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "TLS_NAME"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "ports": [
              {
                "name": "api",
                "containerPort": 8443,
                "protocol": "TCP"
              }
            ],
            "readinessProbe": {
              "httpGet": {
                "path": "/v1/ready",
                "port": "api",
                "scheme": "HTTPS"
              },
              "periodSeconds": 10
            },
            "livenessProbe": {
              "httpGet": {
                "path": "/v1/health",
                "port": "api",
                "scheme": "HTTPS"
              },
              "initialDelaySeconds": 30,
              "periodSeconds": 30
            },
            "resources": {
              "requests": {
                "cpu": "500m",
                "memory": "1Gi"
              },
              "limits": {
                "memory": "4Gi"
              }
            },
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              },
              {
                "name": "tmp",
                "mountPath": "/tmp"
              }
            ]
          }
        ],
        "volumes": [
          {
            "name": "tmp",
            "emptyDir": {
              "medium": "Memory",
              "sizeLimit": "64Mi"
            }
          }
        ]
      }
    },
    "volumeClaimTemplates": [
      {
        "metadata": {
          "name": "room"
        },
        "spec": {
          "accessModes": [
            "ReadWriteOnce"
          ],
          "resources": {
            "requests": {
              "storage": "10Gi"
            }
          }
        }
      }
    ]
  }
};
// /tmp/cdr-it.CMwyBe/scheme.yaml
export const doc4: T4 = {
  "apiVersion": "apps/v1",
  "kind": "StatefulSet",
  "metadata": {
    "name": "cdr",
    "labels": {
      "app.kubernetes.io/name": "cdr"
    }
  },
  "spec": {
    "serviceName": "cdr-headless",
    "replicas": 1,
    "podManagementPolicy": "OrderedReady",
    "updateStrategy": {
      "type": "OnDelete"
    },
    "selector": {
      "matchLabels": {
        "app.kubernetes.io/name": "cdr"
      }
    },
    "template": {
      "metadata": {
        "labels": {
          "app.kubernetes.io/name": "cdr"
        }
      },
      "spec": {
        "automountServiceAccountToken": false,
        "enableServiceLinks": false,
        "securityContext": {
          "runAsNonRoot": true,
          "runAsUser": 10001,
          "runAsGroup": 10001,
          "fsGroup": 10001,
          "seccompProfile": {
            "type": "RuntimeDefault"
          }
        },
        "initContainers": [
          {
            "name": "init-room",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "init"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_ROOM_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ROOM_NAME"
                  }
                }
              },
              {
                "name": "CDR_ATTESTATION",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "ATTESTATION"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              }
            ]
          }
        ],
        "containers": [
          {
            "name": "cdrd",
            "image": "cdr:latest",
            "imagePullPolicy": "IfNotPresent",
            "command": [
              "/entrypoint.sh",
              "serve"
            ],
            "env": [
              {
                "name": "CDR_ROOM",
                "value": "/var/lib/cdr/room"
              },
              {
                "name": "CDR_LISTEN",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "LISTEN"
                  }
                }
              },
              {
                "name": "CDR_TLS_NAME",
                "valueFrom": {
                  "configMapKeyRef": {
                    "name": "cdr-room",
                    "key": "TLS_NAME"
                  }
                }
              },
              {
                "name": "CDR_HSM_PIN",
                "valueFrom": {
                  "secretKeyRef": {
                    "name": "cdr-token-pin",
                    "key": "pin"
                  }
                }
              }
            ],
            "ports": [
              {
                "name": "api",
                "containerPort": 8443,
                "protocol": "TCP"
              }
            ],
            "readinessProbe": {
              "httpGet": {
                "path": "/v1/ready",
                "port": "api",
                "scheme": "HTTPX"
              },
              "periodSeconds": 10
            },
            "livenessProbe": {
              "httpGet": {
                "path": "/v1/health",
                "port": "api",
                "scheme": "HTTPS"
              },
              "initialDelaySeconds": 30,
              "periodSeconds": 30
            },
            "resources": {
              "requests": {
                "cpu": "500m",
                "memory": "1Gi"
              },
              "limits": {
                "memory": "4Gi"
              }
            },
            "securityContext": {
              "allowPrivilegeEscalation": false,
              "readOnlyRootFilesystem": true,
              "capabilities": {
                "drop": [
                  "ALL"
                ]
              }
            },
            "volumeMounts": [
              {
                "name": "room",
                "mountPath": "/var/lib/cdr"
              },
              {
                "name": "tmp",
                "mountPath": "/tmp"
              }
            ]
          }
        ],
        "volumes": [
          {
            "name": "tmp",
            "emptyDir": {
              "medium": "Memory",
              "sizeLimit": "64Mi"
            }
          }
        ]
      }
    },
    "volumeClaimTemplates": [
      {
        "metadata": {
          "name": "room"
        },
        "spec": {
          "accessModes": [
            "ReadWriteOnce"
          ],
          "resources": {
            "requests": {
              "storage": "10Gi"
            }
          }
        }
      }
    ]
  }
};
