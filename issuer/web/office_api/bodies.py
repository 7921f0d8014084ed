"""Reading request bodies and arguments: each bad value is a 400 naming it."""

from __future__ import annotations

import json

from flask import request

from issuer.web.office_api.errors import bad
from verifier.numbers import CertificateNumber, NumberFormatError

MAX_IDS = 10_000
MAX_ID = 2**31 - 1  # the database's integer ids: anything larger is no id at all
MAX_REASON = 500
PAGE_MAX = 1000


def json_body():
    if request.mimetype != "application/json":
        raise bad(
            "请求体须为 JSON（Content-Type: application/json）",
            f"expected Content-Type application/json, got {request.mimetype or '(none)'}",
        )
    data = request.get_data(cache=True)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise bad("请求体不是 UTF-8 编码的 JSON", f"request body is not UTF-8 (byte {e.start})") from None
    try:
        return json.loads(text)
    except ValueError as e:
        raise bad("请求体不是有效的 JSON", f"invalid JSON: {e}") from None
    except RecursionError:
        raise bad("请求体不是有效的 JSON：嵌套过深", "invalid JSON: nested too deeply") from None


def json_object() -> dict:
    body = json_body()
    if not isinstance(body, dict):
        raise bad("请求体须为 JSON 对象", "the JSON body must be an object")
    return body


def record_ids(body: dict) -> list[int]:
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID for i in ids)
    ):
        raise bad(
            f"ids 须为 1 至 {MAX_IDS} 个记录编号（正整数）组成的列表",
            f'"ids" must be a list of 1 to {MAX_IDS} positive integer record ids',
        )
    return ids


def reason_in(body: dict) -> str:
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise bad("须写明原因（reason）", '"reason" must be a non-empty string')
    if len(reason) > MAX_REASON:
        raise bad(f"原因不能超过 {MAX_REASON} 字", f'"reason" is longer than {MAX_REASON} characters')
    return reason


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise bad(
            f"参数 {name} 须为 {low} 至 {high} 的整数", f"{name} must be an integer from {low} to {high}"
        )
    return value


def compact_number(number: str) -> str:
    try:
        return CertificateNumber.parse(number[:40]).compact
    except NumberFormatError as e:
        raise bad("证书编号无效", f"invalid certificate number: {e}") from None
