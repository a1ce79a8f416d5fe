/**
 * Whether Ajv checks each schema against the JSON Schema meta-schema before compiling it. The schemas are
 * code (TypeBox), the same in every run: the test run checks them (scripts/test.ts sets
 * WEAPP_VALIDATE_SCHEMAS=1, and every route and config schema is compiled by some test), so production
 * does not pay for compiling the meta-schema in each Ajv instance at start (about 60 ms of CPU each).
 */
export const VALIDATE_SCHEMAS = process.env.WEAPP_VALIDATE_SCHEMAS === '1'
