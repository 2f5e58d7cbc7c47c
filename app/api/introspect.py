"""What a view reads and answers, read from its own code, so the OpenAPI document cannot
drift from the validation: the body model is the one the view hands `parse_body`.

A view's body model is the `parse_body(Model)` call in the view or in a function of its
own module that it calls; its query parameters are the `int_arg("name")`,
`time_arg("name")` and `request.args.get("name")` calls that name them literally; its
success statuses are the `return ..., 201` of its own returns (200 otherwise). A body
that is no pydantic model (a calendar file) is declared with `@request_body`.
"""

import ast
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from types import FunctionType, ModuleType

from pydantic import BaseModel

from app.api.params import int_arg, time_arg
from app.api.schemas import parse_body

logger = logging.getLogger(__name__)

QUERY_READERS = {int_arg: {"type": "integer", "minimum": 0}, time_arg: {"type": "string"}}
TIME_FORMAT = {"format": "date-time"}


@dataclass
class ViewContract:
    body: type[BaseModel] | None = None
    body_optional: bool = False
    declared_body: dict | None = None  # OpenAPI `content`, from @request_body
    query: dict[str, dict] = field(default_factory=dict)  # name -> JSON schema
    statuses: set[int] = field(default_factory=set)


def request_body(content: dict, required: bool = True) -> Callable:
    """Declare a body the view reads itself (no pydantic model): OpenAPI `content` by
    media type. Only the document reads it; the view still checks what arrives."""

    def mark(view: Callable) -> Callable:
        view.openapi_body = {"content": content, "required": required}
        return view

    return mark


def contract_of(view: Callable) -> ViewContract:
    view = inspect.unwrap(view)
    found = ViewContract(declared_body=getattr(view, "openapi_body", None))
    _read_function(view, found, seen=set())
    found.statuses |= _success_statuses(_function_node(view))
    return found


def _read_function(function: FunctionType, found: ViewContract, seen: set) -> None:
    """Walk one function's calls; follow the helpers its own module defines."""
    if function in seen:
        return
    seen.add(function)
    names = function.__globals__
    for node in ast.walk(_function_node(function)):
        if isinstance(node, ast.Call):
            target = names.get(node.func.id) if isinstance(node.func, ast.Name) else None
            if target is parse_body:
                _read_body(node, names, found, function)
            elif target in QUERY_READERS and _literal(node):
                schema = dict(QUERY_READERS[target])
                if target is time_arg:
                    schema |= TIME_FORMAT
                found.query[_literal(node)] = schema
            elif _is_args_get(node) and _literal(node):
                found.query.setdefault(_literal(node), {"type": "string"})
            elif _own_helper(target, function):
                _read_function(target, found, seen)
        elif isinstance(node, ast.Subscript) and _is_request_args(node.value):
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                found.query.setdefault(node.slice.value, {"type": "string"})


def _read_body(call: ast.Call, names: dict, found: ViewContract, function) -> None:
    model = names.get(call.args[0].id) if call.args and isinstance(call.args[0], ast.Name) else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        # A body the document cannot name would silently go undocumented: refuse instead.
        raise TypeError(
            f"{function.__module__}.{function.__qualname__}: parse_body's model must be a "
            "pydantic model named directly, for the OpenAPI document to find it"
        )
    optional = any(
        k.arg == "optional" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )
    found.body, found.body_optional = model, optional


def _literal(call: ast.Call) -> str | None:
    first = call.args[0] if call.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _is_request_args(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "args"
        and isinstance(node.value, ast.Name)
        and node.value.id == "request"
    )


def _is_args_get(call: ast.Call) -> bool:
    func = call.func
    return isinstance(func, ast.Attribute) and func.attr == "get" and _is_request_args(func.value)


def _own_helper(target, function: FunctionType) -> bool:
    return isinstance(target, FunctionType) and target.__module__ == function.__module__


def _success_statuses(node: ast.FunctionDef) -> set[int]:
    """`return body, 201` → 201; a return without a status is 200."""
    statuses = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Return) and child.value is not None:
            value = child.value
            status = 200
            if isinstance(value, ast.Tuple) and len(value.elts) >= 2:
                second = value.elts[1]
                if isinstance(second, ast.Constant) and isinstance(second.value, int):
                    status = second.value
            statuses.add(status)
    return statuses or {200}


def _function_node(function: FunctionType) -> ast.FunctionDef:
    """The function's own node in its module's tree (the first line of a decorated
    function is its first decorator's)."""
    for node in ast.walk(_module_tree(inspect.getmodule(function))):
        if isinstance(node, ast.FunctionDef) and node.name == function.__name__:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if first == function.__code__.co_firstlineno:
                return node
    raise LookupError(f"no source for {function.__module__}.{function.__qualname__}")


def remember_source(view: Callable) -> None:
    """Parse the view's module now (see openapi.read_view_sources)."""
    _module_tree(inspect.getmodule(inspect.unwrap(view)))


@cache
def _module_tree(module: ModuleType) -> ast.Module:
    return ast.parse(inspect.getsource(module))
