/*
 * openapi.h - docs/openapi.json, the OpenAPI 3.1 description of the
 * /v1 API, embedded byte for byte at build time (cmake/embed_file.cmake
 * writes the array), so that GET /v1/openapi.json serves exactly the
 * committed file.
 */
#ifndef CDR_HOST_OPENAPI_H
#define CDR_HOST_OPENAPI_H

#include <stddef.h>

extern const char cdr_openapi_json[];
extern const size_t cdr_openapi_json_len;

#endif
