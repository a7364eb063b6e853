// validate.js FILE - validate an OpenAPI 3.1 description with
// @apidevtools/swagger-parser (schema of the OpenAPI specification and
// every $ref resolved), offline.  Exit 0 valid, 1 invalid (the reason
// on stderr).  Run by ctest as openapi/validate.
'use strict';
const SwaggerParser = require('@apidevtools/swagger-parser');

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node validate.js FILE');
    process.exit(2);
  }
  try {
    const api = await SwaggerParser.validate(file);
    if (!/^3\.1\./.test(api.openapi)) throw new Error(`openapi is ${api.openapi}, not 3.1.x`);
    console.log(`ok - ${file}: OpenAPI ${api.openapi}, ${Object.keys(api.paths).length} paths, valid`);
  } catch (e) {
    console.error(`FAIL - ${file}: ${e.message}`);
    process.exit(1);
  }
}
main();
