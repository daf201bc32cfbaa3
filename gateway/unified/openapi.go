package unified

import _ "embed"

// openAPIDoc is the OpenAPI 3 description of the unified API, served at
// /api/sms/openapi.json; the HTTP tests validate every answer against it.
//
//go:embed openapi.json
var openAPIDoc []byte
