"""The REST reference in Markdown, made from the OpenAPI document so the two cannot differ:
`python -m bot.web.reference > docs/rest-api.md` (a test checks the committed copy)."""

from __future__ import annotations

from typing import Any

from bot.web.rest import openapi_document


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    kind = str(schema.get("type", "object"))
    if schema.get("format"):
        kind += f" ({schema['format']})"
    return kind


def markdown(document: dict[str, Any]) -> str:
    lines = ["# REST API reference", "",
             "Generated from `/api/v1/openapi.json` by `python -m bot.web.reference`; "
             "see [api.md](api.md) for tokens, scopes and the MCP server.", "",
             "Every route needs `Authorization: Bearer <token>` with the scope named. Errors "
             "are `{\"error\": ..., \"next\": ...}` with 401, 403, 404, 409 or 422.", ""]
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            scope = op["security"][0]["bearer"][0]
            lines += [f"## `{method.upper()} {path}`", "", f"{op['summary']} (scope "
                      f"`{scope}`, operation `{op['operationId']}`).", ""]
            params = op.get("parameters", [])
            if params:
                lines += ["| parameter | in | type | required | description |",
                          "|---|---|---|---|---|"]
                lines += [f"| `{p['name']}` | {p['in']} | {_type(p['schema'])} | "
                          f"{'yes' if p['required'] else 'no'} | {p.get('description', '')} |"
                          for p in params]
                lines.append("")
            body = op.get("requestBody")
            if body:
                ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
                fields = document["components"]["schemas"][ref].get("properties", {})
                required = set(document["components"]["schemas"][ref].get("required", []))
                lines += ["Body (JSON):", "", "| field | type | required |", "|---|---|---|"]
                lines += [f"| `{name}` | {_type(schema)} | "
                          f"{'yes' if name in required else 'no'} |"
                          for name, schema in fields.items()]
                lines.append("")
            ok = next(code for code in op["responses"] if code.startswith("2"))
            content = op["responses"][ok]["content"]
            answer = (_type(content["application/json"]["schema"])
                      if "application/json" in content else "Markdown text")
            lines += [f"Answers **{ok}** with {answer}.", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown(openapi_document("http://127.0.0.1:8080")), end="")
