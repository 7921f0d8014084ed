"""The OpenAPI 3.1 description of the verifier's API."""

from __future__ import annotations

_check = {
    "type": "object",
    "required": ["name", "ok", "message", "detail"],
    "properties": {
        "name": {
            "type": "string",
            "enum": ["format", "signature", "key", "status", "validity", "credits", "pdf"],
            "description": "the six checks in order; a PDF given as input adds `pdf`, its own signature",
        },
        "ok": {"type": "boolean"},
        "message": {"type": "string", "description": "中文说明"},
        "detail": {"type": "string", "description": "English detail"},
    },
}
_amounts = {"type": "object", "additionalProperties": {"type": "string", "pattern": r"^\d+\.\d{2}$"}}
_amount = {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$"}
_current = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "required": ["version", "issued_at", "status", "valid_until"],
            "properties": {
                "version": {"type": "integer"},
                "issued_at": {"type": "string", "format": "date-time"},
                "status": {"type": "string", "enum": ["in_progress", "qualified", "not_qualified"]},
                "valid_until": {"type": "string", "format": "date"},
                "total": _amount,
            },
        },
    ],
    "description": "outcome superseded: what the current version of the number certifies; else null",
}
_reading = {
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "properties": {
                "verdict": {"type": "string", "enum": ["in_progress", "qualified", "not_qualified"]},
                "label": {"type": "string"},
                "source": {"type": "string", "enum": ["register", "token"]},
                "requirements": {
                    "type": "object",
                    "properties": {"met": {"type": "integer"}, "of": {"type": "integer"}},
                },
                "short": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "label": {"type": "string"},
                            "short": _amount,
                        },
                    },
                },
                "buckets": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "minimum": _amount,
                            "status": {
                                "type": ["string", "null"],
                                "enum": ["met", "offset", "short", None],
                                "description": "met 达标, offset 折抵后达标 (the required surplus covers it), short 未达; "
                                "null: no minimum",
                            },
                        },
                    },
                },
                "years": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "year": {"type": "integer"},
                            "status": {
                                "type": ["string", "null"],
                                "enum": [
                                    "met",
                                    "short",
                                    "not-required",
                                    "not-yet",
                                    "total-met",
                                    "no-credits",
                                    None,
                                ],
                                "description": "met 达标, short 未达, not-required 不作要求, not-yet 签发时未结束; from the "
                                "token alone: total-met 合计达标 (the parts unknown), no-credits 无学分记录",
                            },
                            "short": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                },
                "prorated": {"type": "boolean"},
                "notes": {"type": "array", "items": {"type": "string"}},
            },
        },
    ],
    "description": "the credits read against the cycle's rules (the register's sheet summary when the token "
    "is bound to it); null when the signature did not verify",
}
_result = {
    "type": "object",
    "required": ["valid", "outcome", "checks", "certificate"],
    "properties": {
        "valid": {"type": "boolean"},
        "outcome": {"type": "string", "enum": ["valid", "superseded", "revoked", "expired", "not_valid"]},
        "current": _current,
        "reading": _reading,
        "checks": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Check"},
            "minItems": 6,
            "maxItems": 7,
        },
        "certificate": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "number": {"type": "string"},
                        "printed_number": {"type": "string"},
                        "version": {"type": "integer"},
                        "holder": {"type": "string"},
                        "id_masked": {"type": "string"},
                        "school": {"type": "string"},
                        "cycle": {"type": "integer"},
                        "status": {"type": "string", "enum": ["in_progress", "qualified", "not_qualified"]},
                        "credits": _amounts,
                        "years": _amounts,
                        "issued_at": {"type": "string", "format": "date-time"},
                        "valid_until": {"type": "string", "format": "date"},
                        "issuer": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "string"},
                                "name": {"type": ["string", "null"]},
                                "kid": {"type": "string"},
                            },
                        },
                    },
                },
            ]
        },
    },
}
_at = {
    "name": "at",
    "in": "query",
    "required": False,
    "description": "verify as of this day (China time)",
    "schema": {"type": "string", "format": "date"},
}
_verdict = {
    "description": "checked: see valid",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
}
_bad = {
    "description": "malformed input: valid=false, the format check named",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
}

_error = {
    "type": "object",
    "required": ["error", "message", "detail"],
    "properties": {
        "error": {
            "type": "string",
            "description": "a code: bad_request, too_many_items, bad_date, rate_limited…",
        },
        "message": {"type": "string", "description": "中文说明"},
        "detail": {"type": "string", "description": "English detail"},
    },
}
_batch_item = {
    "oneOf": [
        {
            "type": "object",
            "required": ["token"],
            "properties": {
                "token": {"type": "string", "maxLength": 5000, "description": "base32 token or URL"}
            },
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["url"],
            "properties": {"url": {"type": "string", "maxLength": 5000, "description": "verification URL"}},
            "additionalProperties": False,
        },
        {
            "type": "object",
            "required": ["number", "code"],
            "properties": {
                "number": {"type": "string", "maxLength": 40, "description": "证书编号, printed or compact"},
                "code": {
                    "type": "string",
                    "maxLength": 40,
                    "description": "查验码, as printed beside the QR code",
                },
            },
            "additionalProperties": False,
        },
    ],
    "description": "one certificate; anything else gives a result with the format check failed",
}
_batch_request = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {"type": "array", "maxItems": 500, "items": {"$ref": "#/components/schemas/BatchItem"}},
        "at": {"type": "string", "format": "date", "description": "verify as of this day (China time)"},
    },
}
_batch_result = {
    "type": "object",
    "required": ["results", "summary"],
    "properties": {
        "results": {
            "type": "array",
            "maxItems": 500,
            "items": {"$ref": "#/components/schemas/Result"},
            "description": "one verification result per item, in the order of the items",
        },
        "summary": {
            "type": "object",
            "required": ["valid", "superseded", "revoked", "expired", "not_valid"],
            "properties": {
                name: {"type": "integer", "minimum": 0}
                for name in ("valid", "superseded", "revoked", "expired", "not_valid")
            },
            "additionalProperties": False,
            "description": "how many results had each outcome",
        },
    },
}


def _json(description: str, schema: str) -> dict[str, object]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "teacher-ecert verifier",
        "version": "1",
        "description": "查验中小学和幼儿园教师继续教育电子证书 · verify continuing-education "
        "e-certificates. Formats: docs/formats.md.",
    },
    "paths": {
        "/api/v1/verify": {
            "get": {
                "summary": "Verify a token or verification URL",
                "parameters": [
                    {
                        "name": "token",
                        "in": "query",
                        "required": True,
                        "description": "base32 token or the verification URL",
                        "schema": {"type": "string"},
                    },
                    _at,
                ],
                "responses": {"200": _verdict, "400": _bad},
            },
            "post": {
                "summary": "Verify a token, URL, PDF or QR image",
                "parameters": [_at],
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"token": {"type": "string"}, "url": {"type": "string"}},
                            }
                        },
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "token": {"type": "string"},
                                },
                            }
                        },
                        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        "image/png": {"schema": {"type": "string", "format": "binary"}},
                        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                    }
                },
                "responses": {"200": _verdict, "400": _bad, "413": _bad, "415": _bad},
            },
        },
        "/api/v1/verify/batch": {
            "post": {
                "summary": "Verify up to 500 certificates at once (a review round's applicants)",
                "description": "Each item counts against the client's budget of GET /api/v1/verify "
                "(600 a minute, single and batch together); a batch the budget cannot cover is "
                "refused whole (429) and counts nothing. A malformed item is a result whose "
                "format check failed, never an error for the batch.",
                "parameters": [_at],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}
                    },
                },
                "responses": {
                    "200": _json(
                        "one result per item, in order, and the count of each outcome", "BatchResult"
                    ),
                    "400": _json(
                        "not JSON, items missing or not a list, over 500 items, or a bad at", "Error"
                    ),
                    "413": _json("body over the upload limit", "Result"),
                    "429": _json("the client's verification budget cannot cover the batch", "Error"),
                    "503": _json("the register cannot be reached", "Error"),
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "summary": "The bureau's public keys (Ed25519 JWKS) with use windows and status",
                "responses": {"200": {"description": "JWKS"}},
            }
        },
        "/api/v1/profiles/{cycle}": {
            "get": {
                "summary": "The published rules profile of a cycle",
                "parameters": [
                    {"name": "cycle", "in": "path", "required": True, "schema": {"type": "integer"}},
                    {"name": "issuer", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "profile"}, "404": {"description": "no such profile"}},
            }
        },
        "/api/v1/status/{number}": {
            "get": {
                "summary": "A certificate number's newest version and status, "
                "and every version's state and token digest (SHA-256 "
                "of the token's bytes, hex); from a verifier on the status "
                "snapshot (ECERT_STATUS=snapshot), also `source`: "
                '{"kind": "snapshot", "generated_at": …}',
                "parameters": [
                    {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "status"},
                    "400": {"description": "malformed number"},
                    "404": {"description": "unknown number"},
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Check": _check,
            "Result": _result,
            "BatchItem": _batch_item,
            "BatchRequest": _batch_request,
            "BatchResult": _batch_result,
            "Error": _error,
        }
    },
}
