"""The OpenAPI 3.0 description of the office's JSON API (issuer/web/office_api/),
served at /api/v1/office/openapi.json. Paths are relative to the server
URL /api/v1/office. A test compares it with the blueprint's routes and
checks the API's answers against these schemas."""

from __future__ import annotations

from verifier.vocab import BUCKETS

_amount = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "example": "10.00"}
_str = {"type": "string"}
_nstr = {"type": "string", "nullable": True}
_int = {"type": "integer"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _obj(required: list[str], **props) -> dict:
    return {"type": "object", "required": required, "properties": props}


_row_error = _obj(
    ["row", "column", "value", "message", "detail"],
    row={
        "type": "integer",
        "nullable": True,
        "description": "the spreadsheet row (header = 1); null: the whole file",
    },
    index={
        "type": "integer",
        "nullable": True,
        "description": "JSON declarations: the record's position in the list (0-based)",
    },
    column={"type": "string", "description": "the header as the file wrote it"},
    value=_str,
    message={"type": "string", "description": "中文"},
    detail={"type": "string", "description": "English"},
)

_error = _obj(
    ["error"],
    error=_obj(
        ["message", "detail"],
        message={"type": "string", "description": "中文说明"},
        detail={"type": "string", "description": "English detail"},
        rows={
            "type": "array",
            "items": _ref("RowError"),
            "description": "a refused declaration: the first 200 bad rows, columns and reasons (of `total`)",
        },
        total={"type": "integer", "description": "a refused declaration: how many errors in all"},
        omitted={"type": "integer", "description": "a refused declaration: errors not listed in `rows`"},
        index={"type": "integer", "description": "the JSON record the error is about"},
    ),
)

_record_in = {
    **_obj(
        ["id_number", "project_code", "grade", "role", "completed_on"],
        id_number={"type": "string", "description": "身份证号"},
        project_code={"type": "string", "description": "项目编号"},
        grade={"type": "string", "description": "考核等次: 不合格 合格 良好 优秀 / fail pass good excellent"},
        role={"type": "string", "description": "角色: 学员 主讲 / trainee lead-trainer"},
        completed_on={"type": "string", "description": "完成日期 YYYY-MM-DD"},
    ),
    "description": "A training record, docs/formats.md's field names; other fields are ignored.",
}

_declared = _obj(
    ["school", "status", "rows", "created", "updated", "unchanged", "changes"],
    school=_str,
    status={"type": "string", "enum": ["declared"]},
    rows=_int,
    created=_int,
    updated=_int,
    unchanged=_int,
    changes={"type": "array", "items": _str, "description": "one line per updated record"},
)

_review_row = _obj(
    [
        "id",
        "teacher",
        "id_masked",
        "school_code",
        "school",
        "project_code",
        "project",
        "completed_on",
        "grade",
        "role",
        "status",
        "reject_reason",
        "credits",
    ],
    id=_int,
    teacher=_str,
    id_masked=_str,
    school_code=_str,
    school=_str,
    project_code=_str,
    project=_str,
    completed_on={"type": "string", "format": "date"},
    grade=_str,
    role=_str,
    status={"type": "string", "enum": ["declared", "recognised", "rejected"]},
    reject_reason=_nstr,
    credits={
        **_obj(
            ["basic", "reward", "credits", "bucket", "why"],
            basic=_amount,
            reward=_amount,
            credits=_amount,
            bucket=_nstr,
            why=_str,
        ),
        "description": "what the rules give the record once recognised (bucket null: nothing)",
    },
)

_record_list = _obj(
    ["status", "school", "limit", "offset", "records", "pending"],
    status=_str,
    school=_nstr,
    limit=_int,
    offset=_int,
    records={"type": "array", "items": _ref("ReviewRow")},
    pending={
        "type": "array",
        "description": "schools with declared records waiting",
        "items": _obj(["school_code", "school", "declared"], school_code=_str, school=_str, declared=_int),
    },
)

_decision = _obj(
    ["status", "count"],
    status={"type": "string", "enum": ["recognised", "rejected"]},
    count=_int,
    school=_str,
)

_buckets = list(BUCKETS)  # the credit sheet's order (docs/formats.md)
_sheet = {
    **_obj(
        [
            "certificate_number",
            "cycle",
            "profile",
            "buckets",
            "offset_used",
            "years",
            "qualified",
            "unmet",
            "records",
        ],
        certificate_number=_str,
        cycle=_int,
        profile=_str,
        buckets={"type": "object", "required": _buckets, "properties": {b: _amount for b in _buckets}},
        offset_used=_amount,
        years={"type": "object", "additionalProperties": _amount},
        qualified={"type": "boolean"},
        unmet={"type": "array", "items": _str},
        records={
            "type": "array",
            "items": _obj(
                ["project_code", "basic", "reward", "credits", "why"],
                project_code=_str,
                basic=_amount,
                reward=_amount,
                credits=_amount,
                why=_str,
            ),
        },
    ),
    "description": "docs/formats.md's credit sheet (`ecert credits --json`)",
}

_certificate = {
    **_obj(
        ["number", "version", "status", "token", "url", "valid_until", "verdict", "check_code", "history"],
        number=_str,
        version=_int,
        status={"type": "string", "enum": ["current", "superseded", "revoked"]},
        token={"type": "string", "description": "base32, as the URL ends"},
        url=_str,
        valid_until={"type": "string", "format": "date"},
        verdict={"type": "string", "enum": ["in_progress", "qualified", "not_qualified"]},
        check_code={"type": "string", "description": "查验码"},
        history={
            "type": "array",
            "items": _obj(
                ["version", "state", "issued_at", "changed_at", "reason"],
                version=_int,
                state={"type": "string", "enum": ["current", "superseded", "revoked"]},
                issued_at={"type": "string", "format": "date-time"},
                changed_at={"type": "string", "format": "date-time", "nullable": True},
                reason=_nstr,
            ),
        },
    ),
    "description": "the current version (or the newest, if revoked) as `ecert show --json --history`",
}

_revoked = _obj(
    ["number", "version", "status", "reason"],
    number=_str,
    version=_int,
    status={"type": "string", "enum": ["revoked"]},
    reason=_str,
)

_audit = _obj(
    ["ok", "entries", "problem"],
    ok={"type": "boolean"},
    entries=_int,
    problem={"type": "string", "nullable": True, "description": "the first broken entry"},
)

_teacher_table = _obj(
    ["school", "short", "limit", "offset", "more", "teachers"],
    school={"type": "string", "nullable": True, "description": "null: the whole region"},
    short=_nstr,
    limit=_int,
    offset=_int,
    more={"type": "boolean", "description": "more rows after these"},
    teachers={
        "type": "array",
        "items": _obj(
            [
                "number",
                "printed_number",
                "name",
                "id_masked",
                "school_code",
                "school",
                "buckets",
                "qualified",
                "unmet",
                "certificate",
            ],
            number=_str,
            printed_number=_str,
            name=_str,
            id_masked=_str,
            school_code=_str,
            school=_str,
            buckets={"type": "object", "required": _buckets, "properties": {b: _amount for b in _buckets}},
            qualified={"type": "boolean"},
            unmet={
                "type": "array",
                "items": _str,
                "description": "requirements not met (buckets, induction, year_YYYY)",
            },
            certificate={
                **_obj(
                    ["version", "state"],
                    version=_int,
                    state={"type": "string", "enum": ["current", "superseded", "revoked"]},
                ),
                "nullable": True,
                "description": "the newest version that counts; null: none issued",
            },
        ),
    },
)

_listed = {"type": "array", "items": _obj(["number", "reason"], number=_str, reason=_str)}
_job = _obj(
    [
        "id",
        "kind",
        "school",
        "state",
        "total",
        "done",
        "percent",
        "counts",
        "chunks",
        "chunks_done",
        "workers",
        "error",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
    ],
    id=_int,
    kind={"type": "string", "enum": ["issue", "render"]},
    kind_label=_str,
    school={"type": "string", "nullable": True, "description": "null: the whole region"},
    teacher={
        "type": "string",
        "nullable": True,
        "description": "an issue job for one certificate number (a reissue from the office); else null",
    },
    state={"type": "string", "enum": ["queued", "running", "done", "failed"]},
    state_label=_str,
    total={"type": "integer", "description": "teachers (issue) or certificates (render) in the job"},
    done=_int,
    percent={"type": "integer", "minimum": 0, "maximum": 100},
    counts={
        "type": "object",
        "additionalProperties": _int,
        "description": "issue: issued reissued unchanged refused; render: rendered unchanged failed",
    },
    count_labels={"type": "object", "additionalProperties": _str},
    refused={**_listed, "description": "issue jobs: the certificates refused, and why"},
    failed={**_listed, "description": "render jobs: the PDFs that failed, and why"},
    chunks=_int,
    chunks_done=_int,
    workers={"type": "object", "additionalProperties": _int},
    error={"type": "string", "nullable": True, "description": "why the job failed, for a clerk"},
    started_by=_str,
    created_at={"type": "string", "format": "date-time"},
    started_at={"type": "string", "format": "date-time", "nullable": True},
    finished_at={"type": "string", "format": "date-time", "nullable": True},
    last_alive_at={
        "type": "string",
        "format": "date-time",
        "nullable": True,
        "description": "the newest sign of life a worker left in the job (a heartbeat or a chunk)",
    },
    stalled={
        "type": "boolean",
        "description": "queued or running, and no worker has shown life for a minute",
    },
    stalled_since={"type": "string", "format": "date-time", "nullable": True},
    stalled_message={"type": "string", "nullable": True, "description": "what the page says, for a clerk"},
)

_ids_body = {
    "required": True,
    "content": {
        "application/json": {
            "schema": _obj(
                ["ids"],
                ids={
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 10000,
                    "items": {"type": "integer", "minimum": 1, "maximum": 2147483647},
                },
            )
        }
    },
}
_reason = {"type": "string", "minLength": 1, "maxLength": 500}


def _responses(ok: dict, *codes: str, status: str = "200") -> dict:
    out = {status: ok}
    for code in ("400", "401", "404", *codes, "429"):
        out[code] = {"$ref": f"#/components/responses/{_RESPONSE_NAMES[code]}"}
    return out


_RESPONSE_NAMES = {
    "400": "BadRequest",
    "401": "Unauthorized",
    "404": "NotFound",
    "409": "Conflict",
    "429": "TooManyRequests",
}
_number = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "certificate number, compact or printed (654004-07-1-000123-6)",
    "schema": _str,
}

OPENAPI = {
    "openapi": "3.0.3",
    "info": {
        "title": "teacher-ecert office API",
        "version": "1",
        "description": "教育局与学校的工作台接口 · the office's JSON API for the bureau's other systems: "
        "declare, review and recognise records, query school tables, credit sheets and "
        "certificates, revoke, run background issue and render jobs, check the audit log. A token comes from `ecert staff token USERNAME` and "
        "acts with its account's role and school; an object outside them is a 404. "
        'Errors are {"error": {"message": 中文, "detail": English}}.',
    },
    "servers": [{"url": "/api/v1/office"}],
    "security": [{"bearer": []}],
    "paths": {
        "/records": {
            "post": {
                "summary": "Declare a school's records (申报): a JSON list, or a CSV/XLSX file",
                "description": "One transaction: any bad row refuses the whole declaration and the "
                "answer lists every row's errors. A registrar declares for her school; "
                "an administrator names it (`school`). Declared records count only once "
                "recognised. Needs the declare permission.",
                "parameters": [
                    {
                        "name": "school",
                        "in": "query",
                        "required": False,
                        "schema": _str,
                        "description": "the school's code (administrators)",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [
                                    {"type": "array", "items": _ref("RecordIn"), "minItems": 1},
                                    _obj(
                                        ["records"],
                                        school=_str,
                                        records={"type": "array", "items": _ref("RecordIn"), "minItems": 1},
                                    ),
                                ]
                            }
                        },
                        "multipart/form-data": {
                            "schema": _obj(
                                ["file"],
                                file={
                                    "type": "string",
                                    "format": "binary",
                                    "description": ".csv (UTF-8) or .xlsx, docs/formats.md's headers",
                                },
                                school=_str,
                            )
                        },
                        "text/csv": {"schema": {"type": "string", "format": "binary"}},
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                "responses": _responses(_json(_ref("Declared"), "declared, waiting for recognition")),
            },
            "get": {
                "summary": "The review queue: records with the credits the rules would give each",
                "description": "A registrar sees her own school's records only.",
                "parameters": [
                    {"name": "school", "in": "query", "required": False, "schema": _str},
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["declared", "recognised", "rejected", "all"],
                            "default": "declared",
                        },
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                ],
                "responses": _responses(_json(_ref("RecordList"), "records, oldest teacher first")),
            },
        },
        "/records/recognise": {
            "post": {
                "summary": "Recognise declared records (认定); all or none",
                "requestBody": _ids_body,
                "responses": _responses(_json(_ref("Decision"), "recognised")),
            }
        },
        "/records/reject": {
            "post": {
                "summary": "Reject declared records with a reason (退回); all or none",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _obj(
                                ["ids", "reason"],
                                ids=_ids_body["content"]["application/json"]["schema"]["properties"]["ids"],
                                reason=_reason,
                            )
                        }
                    },
                },
                "responses": _responses(_json(_ref("Decision"), "rejected")),
            }
        },
        "/schools/{code}/recognise": {
            "post": {
                "summary": "Recognise every declared record of one school",
                "parameters": [{"name": "code", "in": "path", "required": True, "schema": _str}],
                "responses": _responses(_json(_ref("Decision"), "recognised")),
            }
        },
        "/teachers/{number}/sheet": {
            "get": {
                "summary": "A teacher's credit sheet (docs/formats.md), by certificate number",
                "parameters": [
                    _number,
                    {
                        "name": "as_of",
                        "in": "query",
                        "required": False,
                        "description": "which years are still under way (default today, China)",
                        "schema": {"type": "string", "format": "date"},
                    },
                ],
                "responses": _responses(_json(_ref("CreditSheet"), "the credit sheet")),
            }
        },
        "/certificates/{number}": {
            "get": {
                "summary": "A certificate's current version and history",
                "parameters": [_number],
                "responses": _responses(_json(_ref("Certificate"), "the certificate")),
            }
        },
        "/certificates/{number}/revoke": {
            "post": {
                "summary": "Revoke the current version, with a reason (audit-logged)",
                "parameters": [_number],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _obj(["reason"], reason=_reason)}},
                },
                "responses": _responses(_json(_ref("Revoked"), "revoked"), "409"),
            }
        },
        "/teachers": {
            "get": {
                "summary": "A school's teachers with their buckets and verdicts, filterable by what they are short of",
                "description": "Without `school`, the bureau's staff get the whole region; a registrar always "
                "gets her own school.",
                "parameters": [
                    {"name": "school", "in": "query", "required": False, "schema": _str},
                    {
                        "name": "short",
                        "in": "query",
                        "required": False,
                        "schema": _str,
                        "description": "any (not qualified), or a bucket with a minimum, or induction",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                    },
                    {
                        "name": "offset",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 0, "default": 0},
                    },
                ],
                "responses": _responses(_json(_ref("TeacherTable"), "teachers in teacher order")),
            }
        },
        "/jobs": {
            "post": {
                "summary": "Start a background issuance or rendering for the region or one school",
                "description": "The job is queued and runs in the background; follow it at /jobs/{job_id}.",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _obj(
                                ["kind"],
                                kind={"type": "string", "enum": ["issue", "render"]},
                                school={"type": "string", "description": "omit for the whole region"},
                            )
                        }
                    },
                },
                "responses": _responses(
                    {
                        **_json(_ref("Job"), "queued (or failed at once if the queue is down)"),
                        "headers": {"Location": {"schema": _str}},
                    },
                    status="202",
                ),
            },
            "get": {
                "summary": "Recent background jobs, newest first",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                    }
                ],
                "responses": _responses(
                    _json(_obj(["jobs"], jobs={"type": "array", "items": _ref("Job")}), "jobs")
                ),
            },
        },
        "/jobs/{job_id}": {
            "get": {
                "summary": "A job's progress and, when it has ended, what was issued, reissued, unchanged "
                "and refused",
                "parameters": [{"name": "job_id", "in": "path", "required": True, "schema": _int}],
                "responses": _responses(_json(_ref("Job"), "the job")),
            }
        },
        "/audit/verify": {
            "get": {
                "summary": "Check the audit log's hash chain",
                "responses": _responses(_json(_ref("AuditReport"), "the chain's state")),
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.0",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "`ecert staff token USERNAME` prints one (ecert_…); only its SHA-256 is stored",
            }
        },
        "schemas": {
            "Error": _error,
            "RowError": _row_error,
            "RecordIn": _record_in,
            "Declared": _declared,
            "ReviewRow": _review_row,
            "RecordList": _record_list,
            "Decision": _decision,
            "CreditSheet": _sheet,
            "Certificate": _certificate,
            "Revoked": _revoked,
            "AuditReport": _audit,
            "TeacherTable": _teacher_table,
            "Job": _job,
        },
        "responses": {
            "BadRequest": _json(
                _ref("Error"), "bad input (a refused declaration lists its rows); nothing was changed"
            ),
            "Unauthorized": {
                "description": "no token, or an unknown or revoked one",
                "headers": {"WWW-Authenticate": {"schema": _str}},
                "content": {"application/json": {"schema": _ref("Error")}},
            },
            "NotFound": _json(
                _ref("Error"), "no such object in this token's scope, or a permission its role lacks"
            ),
            "Conflict": _json(_ref("Error"), "the certificate has no current version"),
            "TooManyRequests": {
                "description": "over the token's rate limit",
                "headers": {"Retry-After": {"schema": _int}},
                "content": {"application/json": {"schema": _ref("Error")}},
            },
        },
    },
}
