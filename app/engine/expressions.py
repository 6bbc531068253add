"""The expression language of BPMN files: a small, safe subset of Python syntax, run by our own
interpreter — never by `eval`.

A BPMN file is untrusted input (administrators edit flows in the browser) and Python cannot be
sandboxed in-process, so expressions are parsed with `ast` and every node is checked against an
**allow-list**; the checked tree is compiled into closures that only know how to do what the list
allows. A node type that is not on the list has no code path here: it cannot run.

What an expression may contain, and why each is safe:

- constants: strings (≤ MAX_SOURCE characters in all), integers of at most 15 digits, finite
  floats, True / False / None;
- list and tuple literals (e.g. a notice's recipients `['applicant', 'office']`);
- names: variables of the task data (never a name starting with `_`);
- `x[key]` (no slices) and `x.get(key[, default])` on data — the only attribute there is, and
  only on a dict at run time: no attribute walk can reach a frame, a class or a module;
- comparisons `== != < <= > >= in not in`, and `is` / `is not` only against None;
- `and`, `or`, `not`, `a if cond else b`;
- `+` and `-`: unary minus and addition/subtraction of numbers, and `+` joining texts or lists
  (a notice's text) with the result capped at MAX_TEXT characters / MAX_ITEMS items. There is no
  `*`, `/`, `%`, `**`, shift or bit operator: those are how `10**10**8`, `'x' * 10**10` and
  `'%s' % …` format tricks explode;
- calls of registered functions only (`deadline('provider_review')`, `reminder(...)`; the
  engine's registry), with positional and keyword arguments, never `*args` / `**kwargs`.

Nothing loops: no comprehension, lambda, generator, f-string, walrus, await or statement. An
expression of at most MAX_SOURCE characters and MAX_NODES nodes therefore does a bounded amount
of work — at most one operation per node, each on values no larger than the task data.
"""
from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.engine.errors import ScriptError

MAX_SOURCE = 1000      # characters of one expression (the longest shipped one has 120)
MAX_NODES = 200        # syntax nodes of one expression
MAX_DEPTH = 24         # nesting depth
MAX_INT_DIGITS = 15    # an integer constant: ids, counts, days — never a giant number
MAX_TEXT = 10_000      # characters of a text built with +
MAX_ITEMS = 1_000      # items of a list built with +


class ExpressionError(ScriptError):
    """An expression is not in the language, or failed while running. Message in Chinese."""


@dataclass(frozen=True)
class Scope:
    """What a running expression sees: the task data, the workflow's data objects, the
    registered functions."""

    data: Mapping[str, Any]
    external: Mapping[str, Any] | None
    functions: Mapping[str, Callable[..., Any]]

    def lookup(self, name: str) -> Any:
        if name in self.data:
            return self.data[name]
        if self.external and name in self.external:
            return self.external[name]
        raise ExpressionError(f"流程数据中没有变量 {name}")


Compiled = Callable[[Scope], Any]

# The syntax that is *not* allowed, named for the error message. Anything else not handled by
# `_Compiler` is refused too, with its class name.
_REFUSED_NAMES = {
    ast.Lambda: "lambda 表达式", ast.ListComp: "列表推导式", ast.SetComp: "集合推导式",
    ast.DictComp: "字典推导式", ast.GeneratorExp: "生成器表达式", ast.JoinedStr: "f-string 格式化字符串",
    ast.FormattedValue: "f-string 格式化字符串", ast.NamedExpr: "赋值表达式（:=）", ast.Await: "await",
    ast.Yield: "yield", ast.YieldFrom: "yield", ast.Starred: "*参数展开", ast.Slice: "切片",
    ast.Dict: "字典字面量", ast.Set: "集合字面量",
}
_BINARY_NAMES = {
    ast.Mult: "乘法（*）", ast.Div: "除法（/）", ast.FloorDiv: "整除（//）", ast.Mod: "取模或格式化（%）",
    ast.Pow: "乘方（**）", ast.LShift: "移位（<<）", ast.RShift: "移位（>>）", ast.BitOr: "位运算（|）",
    ast.BitAnd: "位运算（&）", ast.BitXor: "位运算（^）", ast.MatMult: "矩阵乘法（@）",
}
_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not,
}


def _refuse(what: str, source: str) -> ExpressionError:
    return ExpressionError(f"表达式中不允许使用{what}：{source!r}")


def _size_checked(tree: ast.AST, source: str) -> None:
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise ExpressionError(f"表达式过于复杂（超过 {MAX_NODES} 个语法节点）：{source[:80]!r}…")
        if depth > MAX_DEPTH:
            raise ExpressionError(f"表达式嵌套过深（超过 {MAX_DEPTH} 层）：{source[:80]!r}…")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


class _Compiler:
    """Checked syntax tree → closures. One method per allowed node type; nothing else compiles."""

    def __init__(self, source: str, functions: Mapping[str, Any] | None):
        self.source = source
        self.functions = functions  # None: function names are checked when called, not now
        self.called: set[str] = set()

    def compile(self, node: ast.AST) -> Compiled:
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            name = _REFUSED_NAMES.get(type(node)) or _BINARY_NAMES.get(type(node)) or type(node).__name__
            raise _refuse(name, self.source)
        return method(node)

    def _Constant(self, node: ast.Constant) -> Compiled:
        value = node.value
        if isinstance(value, bool) or value is None or isinstance(value, str):
            pass
        elif isinstance(value, int):
            if len(str(abs(value))) > MAX_INT_DIGITS:
                raise ExpressionError(f"表达式中的整数常量过大（最多 {MAX_INT_DIGITS} 位）：{self.source!r}")
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _refuse("非有限浮点数", self.source)
        else:
            raise _refuse(f"{type(value).__name__} 常量", self.source)
        return lambda scope: value

    def _Name(self, node: ast.Name) -> Compiled:
        name = node.id
        if name.startswith("_"):
            raise _refuse(f"以下划线开头的名称 {name}", self.source)
        return lambda scope: scope.lookup(name)

    def _List(self, node: ast.List) -> Compiled:
        items = [self.compile(e) for e in node.elts]
        return lambda scope: [item(scope) for item in items]

    def _Tuple(self, node: ast.Tuple) -> Compiled:
        items = [self.compile(e) for e in node.elts]
        return lambda scope: tuple(item(scope) for item in items)

    def _Subscript(self, node: ast.Subscript) -> Compiled:
        value, key = self.compile(node.value), self.compile(node.slice)
        return lambda scope: _item(value(scope), key(scope))

    def _Attribute(self, node: ast.Attribute) -> Compiled:
        raise _refuse(f"属性访问 .{node.attr}（只允许调用 .get(...)）", self.source)

    def _Call(self, node: ast.Call) -> Compiled:
        if any(k.arg is None for k in node.keywords):
            raise _refuse("**参数展开", self.source)
        args = [self.compile(a) for a in node.args]
        kwargs = {k.arg: self.compile(k.value) for k in node.keywords}
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get":
            return self._get(func, args, kwargs)
        if not isinstance(func, ast.Name):
            raise _refuse("调用非注册函数", self.source)
        name = func.id
        if self.functions is not None and name not in self.functions:
            known = "、".join(sorted(self.functions)) or "（无）"
            raise ExpressionError(f"表达式调用了未注册的函数 {name}（可用：{known}）：{self.source!r}")
        if self.functions is not None:
            self._check_arguments(self.functions[name], node.args)
        self.called.add(name)

        def call(scope: Scope) -> Any:
            fn = scope.functions.get(name)
            if fn is None:
                raise ExpressionError(f"未注册的函数 {name}")
            return fn(*(a(scope) for a in args), **{k: v(scope) for k, v in kwargs.items()})
        return call

    def _check_arguments(self, fn: Any, args: list[ast.expr]) -> None:
        """A registered function may check its literal arguments when a diagram is deployed
        (`fn.check_arguments(first_literal)`, raising ValueError), e.g. that `deadline('x')`
        names a deadline the jurisdiction has."""
        check = getattr(fn, "check_arguments", None)
        if check is not None and args and isinstance(args[0], ast.Constant):
            try:
                check(args[0].value)
            except ValueError as exc:
                raise ExpressionError(f"{exc}：{self.source!r}") from None

    def _get(self, func: ast.Attribute, args: list[Compiled], kwargs: dict) -> Compiled:
        if kwargs or not 1 <= len(args) <= 2:
            raise _refuse(".get 的这种用法（只允许 x.get(键) 或 x.get(键, 默认值)）", self.source)
        target = self.compile(func.value)

        def get(scope: Scope) -> Any:
            mapping = target(scope)
            if type(mapping) is not dict:
                raise ExpressionError(f".get 只能用于字典数据，而不是 {type(mapping).__name__}")
            key, *default = (a(scope) for a in args)
            if not _hashable(key):
                return default[0] if default else None  # a list can never be a data key
            return mapping.get(key, *default)
        return get

    def _Compare(self, node: ast.Compare) -> Compiled:
        parts = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]
        ops = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                    isinstance(right, ast.Constant) and right.value is None):
                raise _refuse("is / is not 与 None 以外的值比较", self.source)
            ops.append(_COMPARE[type(op)])

        def compare(scope: Scope) -> bool:
            left = parts[0](scope)
            for op, part in zip(ops, parts[1:], strict=True):
                right = part(scope)
                if not _checked(op, left, right):
                    return False
                left = right
            return True
        return compare

    def _BoolOp(self, node: ast.BoolOp) -> Compiled:
        values = [self.compile(v) for v in node.values]
        if isinstance(node.op, ast.And):
            def all_of(scope: Scope) -> Any:
                result = True
                for value in values:
                    result = value(scope)
                    if not result:
                        return result
                return result
            return all_of

        def any_of(scope: Scope) -> Any:
            result = False
            for value in values:
                result = value(scope)
                if result:
                    return result
            return result
        return any_of

    def _UnaryOp(self, node: ast.UnaryOp) -> Compiled:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda scope: not operand(scope)
        if isinstance(node.op, ast.USub):
            return lambda scope: _negative(operand(scope))
        raise _refuse(f"一元运算 {type(node.op).__name__}", self.source)

    def _BinOp(self, node: ast.BinOp) -> Compiled:
        if isinstance(node.op, ast.Add):
            combine = _add
        elif isinstance(node.op, ast.Sub):
            combine = _subtract
        else:
            raise _refuse(_BINARY_NAMES.get(type(node.op), type(node.op).__name__), self.source)
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda scope: combine(left(scope), right(scope))

    def _IfExp(self, node: ast.IfExp) -> Compiled:
        test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
        return lambda scope: body(scope) if test(scope) else orelse(scope)


# -- run-time operations: each checks its operands' types, so data can never reach Python's
#    dunder machinery on an unexpected object.

_NUMBER = (int, float)
_DATA = (str, int, float, bool, type(None), list, tuple, dict)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


def _item(container: Any, key: Any) -> Any:
    if type(container) is dict:
        if not _hashable(key) or key not in container:
            raise ExpressionError(f"数据中没有键 {key!r}"[:200])
        return container[key]
    if type(container) in (list, tuple, str):
        if type(key) is not int:
            raise ExpressionError(f"列表或文本的下标必须是整数，而不是 {type(key).__name__}")
        if not -len(container) <= key < len(container):
            raise ExpressionError(f"下标 {key} 超出范围")
        return container[key]
    raise ExpressionError(f"{type(container).__name__} 类型的数据不能用 [] 取值")


def _checked(op: Callable[[Any, Any], Any], left: Any, right: Any) -> bool:
    if not isinstance(left, _DATA) or not isinstance(right, _DATA):
        raise ExpressionError(f"不能比较 {type(left).__name__} 与 {type(right).__name__}")
    try:
        return bool(op(left, right))
    except TypeError:
        raise ExpressionError(f"不能比较 {type(left).__name__} 与 {type(right).__name__}") from None


def _add(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return left + right
    if type(left) is str and type(right) is str:
        if len(left) + len(right) > MAX_TEXT:
            raise ExpressionError(f"拼接后的文本超过 {MAX_TEXT} 个字符")
        return left + right
    if type(left) is list and type(right) is list:
        if len(left) + len(right) > MAX_ITEMS:
            raise ExpressionError(f"拼接后的列表超过 {MAX_ITEMS} 项")
        return left + right
    raise ExpressionError(f"不能相加 {type(left).__name__} 与 {type(right).__name__}（文本只能与文本拼接）")


def _subtract(left: Any, right: Any) -> Any:
    if _is_number(left) and _is_number(right):
        return left - right
    raise ExpressionError(f"减法只能用于数字，而不是 {type(left).__name__} 与 {type(right).__name__}")


def _negative(value: Any) -> Any:
    if _is_number(value):
        return -value
    raise ExpressionError(f"负号只能用于数字，而不是 {type(value).__name__}")


# -- the public face

@dataclass(frozen=True)
class Expression:
    source: str
    run: Compiled
    functions_called: frozenset[str]


def _parse(source: str) -> ast.Expression:
    if not isinstance(source, str):
        raise ExpressionError(f"表达式必须是文本，而不是 {type(source).__name__}")
    text = source.strip()
    if not text:
        raise ExpressionError("表达式为空")
    if len(text) > MAX_SOURCE:
        raise ExpressionError(f"表达式过长（超过 {MAX_SOURCE} 个字符）")
    if "\x00" in text:
        raise ExpressionError("表达式中含有空字符")
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"表达式语法错误（{exc.msg}）：{text!r}；表达式只能是一个值或条件，"
                              "不能是语句或脚本") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError(f"表达式无法解析：{text[:80]!r}") from None


def check(source: str, functions: Mapping[str, Any] | None = None) -> Expression:
    """Parse and check `source`; with `functions`, every called name must be one of them.
    Raises ExpressionError naming the refused construct."""
    tree = _parse(source)
    _size_checked(tree, source)
    compiler = _Compiler(source.strip(), functions)
    run = compiler.compile(tree.body)
    return Expression(source.strip(), run, frozenset(compiler.called))


@lru_cache(maxsize=4096)
def compiled(source: str) -> Expression:
    """`check(source)` once per distinct source (function names are resolved when called)."""
    return check(source)


def evaluate(source: str, data: Mapping[str, Any], functions: Mapping[str, Callable[..., Any]],
             external: Mapping[str, Any] | None = None) -> Any:
    """Run one expression against the task `data` (and data objects `external`)."""
    return compiled(source).run(Scope(data, external, functions))
