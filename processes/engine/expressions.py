"""The Python a diagram may carry: an AST allowlist checked at deploy and before every run, and a restricted runtime.

Conditions, scripts, service-task parameters, timer and DMN expressions are written by analysts and executed by
SpiffWorkflow with eval/exec. Only plain data handling is allowed: names, literals, containers, comprehensions,
comparisons, boolean and arithmetic operators, subscripts, conditional expressions, a few safe builtins and a few
methods of plain values. Attribute access is allowed only as a call of one of those methods: any other attribute
(gi_frame, f_back, f_globals, format strings' field lookups...) is a way out of the sandbox.
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
import textwrap
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment


def _words(text: str) -> list[str]:
    return text.split()


SAFE_BUILTIN_NAMES = tuple(_words("len str int float bool min max sum abs round sorted any all dict list set tuple"))
SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}

# Methods of str/dict/list values; no "format"/"format_map" (their field syntax reaches attributes).
SAFE_METHODS = frozenset(
    _words(
        "get pop setdefault update copy items keys values append extend count index"
        " strip lstrip rstrip upper lower startswith endswith split join replace isdigit"
    )
)

# Named only to give a clearer message: none of them is reachable at run time anyway.
FORBIDDEN_NAMES = frozenset(
    _words(
        "eval exec open compile getattr setattr delattr hasattr globals locals vars dir breakpoint input help"
        " type object super memoryview exit quit"
    )
)

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.Module,
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.If,
    ast.For,
    ast.Pass,
    ast.Name,
    ast.Load,
    ast.Store,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.Set,
    ast.Dict,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.comprehension,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.IfExp,
    ast.Subscript,
    ast.Slice,
    ast.Call,
    ast.keyword,
    ast.Attribute,
    ast.JoinedStr,
    ast.FormattedValue,
)

_NODE_NAMES = {
    ast.Import: "import 语句",
    ast.ImportFrom: "import 语句",
    ast.Lambda: "lambda 表达式",
    ast.FunctionDef: "函数定义（def）",
    ast.AsyncFunctionDef: "函数定义（def）",
    ast.ClassDef: "类定义（class）",
    ast.Global: "global 语句",
    ast.Nonlocal: "nonlocal 语句",
    ast.With: "with 语句",
    ast.AsyncWith: "with 语句",
    ast.Try: "try 语句",
    ast.Raise: "raise 语句",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Await: "await",
    ast.Delete: "del 语句",
    ast.Starred: "星号展开",
    ast.While: "while 循环",
    ast.NamedExpr: "海象运算符（:=）",
    ast.Pow: "幂运算（**）",
}


class ExpressionRefused(ValueError):
    """An expression or script outside the allowlist reached the engine."""


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.problems: list[str] = []

    def _refuse(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, _ALLOWED_NODES):
            self._refuse(f"不允许使用{_NODE_NAMES.get(type(node), type(node).__name__)}")
            return
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("_"):
            self._refuse(f"不允许使用以下划线开头的名称 {node.id}")
        elif node.id in FORBIDDEN_NAMES:
            self._refuse(f"不允许使用 {node.id}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        # Reached only when the attribute is not a call of a safe method (visit_Call handles those).
        self._refuse(f"不允许访问属性 .{node.attr}（只能调用 {', '.join(sorted(SAFE_METHODS))} 等方法）")

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in SAFE_BUILTINS:
                pass
            elif func.id.startswith("_") or func.id in FORBIDDEN_NAMES:
                self.visit_Name(func)
            else:
                self._refuse(f"不允许调用 {func.id}（可用的函数: {', '.join(SAFE_BUILTIN_NAMES)}）")
        elif isinstance(func, ast.Attribute) and func.attr in SAFE_METHODS:
            self.visit(func.value)
        elif isinstance(func, ast.Attribute):
            self._refuse(f"不允许调用方法 .{func.attr}")
            self.visit(func.value)
        else:
            self._refuse("只能调用允许的函数或方法")
            self.visit(func)
        for arg in node.args:
            self.visit(arg)
        for keyword in node.keywords:
            self.visit(keyword)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg is None:
            self._refuse("不允许使用 ** 展开参数")
        elif node.arg.startswith("_"):
            self._refuse(f"不允许使用以下划线开头的参数名 {node.arg}")
        self.visit(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            self._refuse("不允许使用 ** 展开字典")
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self._refuse("不允许使用异步推导式")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Pow):
            self._refuse(_NODE_NAMES[ast.Pow])
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, ast.Pow):
            self._refuse(_NODE_NAMES[ast.Pow])
        self.generic_visit(node)


@lru_cache(maxsize=4096)
def _check(source: str, mode: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        return (f"语法错误: {exc.msg}",)
    checker = _Checker()
    checker.visit(tree)
    return tuple(checker.problems)


def check_expression(source: str) -> list[str]:
    """Problems (Chinese) of one expression outside the allowlist; empty when it is allowed."""
    return list(_check(source.strip(), "eval"))


def check_script(source: str) -> list[str]:
    """Problems (Chinese) of a script (statements) outside the allowlist; empty when it is allowed."""
    return list(_check(_dedent(source), "exec"))


def _dedent(source: str) -> str:
    return textwrap.dedent(source).strip()


# -- what SpiffWorkflow will evaluate -------------------------------------------------------------------------

_QUESTION_MARK = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


def dmn_rule_expression(input_expression: str | None, entry: str) -> str:
    """The expression SpiffWorkflow's DMN engine builds for one input entry (see DMNEngine.evaluate)."""
    match = _QUESTION_MARK.sub("dmninputexpr", entry)
    if "dmninputexpr" in match:
        return match
    try:
        ast.parse(match)
        return f"({input_expression}) == ({match})"
    except SyntaxError:
        return f"{input_expression}{match}"


def task_expressions(task_spec: Any) -> Iterator[tuple[str, str, str]]:
    """(what, source, mode) for every expression or script SpiffWorkflow may evaluate for a task spec.

    Conditions on sequence flows are checked from the XML (they carry the flow id), not here.
    """
    for attr, what in (("script", "脚本"), ("prescript", "前置脚本"), ("postscript", "后置脚本")):
        value = getattr(task_spec, attr, None)
        if isinstance(value, str) and value.strip():
            yield what, value, "exec"
    params = getattr(task_spec, "operation_params", None)
    if isinstance(params, dict):
        for name, param in params.items():
            value = param.get("value") if isinstance(param, dict) else None
            if isinstance(value, str):
                yield f"参数 {name}", value, "eval"
    for attr, what in (("cardinality", "多实例数量"), ("condition", "循环/完成条件")):
        value = getattr(task_spec, attr, None)
        if isinstance(value, str) and value.strip():
            yield what, value, "eval"
    yield from _event_expressions(getattr(task_spec, "event_definition", None))


def _event_expressions(definition: Any) -> Iterator[tuple[str, str, str]]:
    if definition is None:
        return
    value = getattr(definition, "expression", None)
    if isinstance(value, str) and value.strip():
        yield "事件表达式", value, "eval"
    for prop in getattr(definition, "correlation_properties", None) or []:
        value = getattr(prop, "retrieval_expression", None)
        if isinstance(value, str) and value.strip():
            yield "消息关联表达式", value, "eval"
    for inner in getattr(definition, "event_definitions", None) or []:
        yield from _event_expressions(inner)


def decision_expressions(decision: Any) -> Iterator[tuple[str, str]]:
    """(element id, expression) for every input expression, rule test and output of a parsed DMN decision."""
    for table in decision.decisionTables:
        for item in table.inputs:
            if item.expression and item.expression.strip():
                yield item.id, item.expression
        for rule in table.rules:
            for entry in rule.inputEntries:
                for test in entry.lhs:
                    if test is not None and test.strip():
                        yield entry.id, dmn_rule_expression(entry.input.expression or "v", test)
            for entry in rule.outputEntries:
                if entry.text and entry.text.strip():
                    yield entry.id, entry.text


# -- run time ---------------------------------------------------------------------------------------------------


class RestrictedEnvironment(TaskDataEnvironment):
    """SpiffWorkflow's task-data environment with the allowlist re-checked and only the safe builtins."""

    def __init__(self, environment_globals: dict[str, Any] | None = None) -> None:
        super().__init__(environment_globals or {})

    def evaluate(self, expression, context, external_context=None):
        """Evaluate an allowed expression against task data."""
        problems = check_expression(expression)
        if problems:
            raise ExpressionRefused(f"表达式不在允许范围内: {'; '.join(problems)}")
        return self._eval_restricted(expression, context, external_context)

    def _eval_restricted(self, expression: str, context: dict, external_context: dict | None) -> Any:
        my_globals = copy.copy(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        # Set last: task data must not be able to bring its own __builtins__.
        my_globals["__builtins__"] = dict(SAFE_BUILTINS)
        return eval(expression.strip(), my_globals)  # allowlisted AST, restricted builtins

    def execute(self, script, context, external_context=None):
        """Run an allowed script against task data (assignments become task data)."""
        problems = check_script(script)
        if problems:
            raise ExpressionRefused(f"脚本不在允许范围内: {'; '.join(problems)}")
        return self._exec_restricted(script, context, external_context)

    def _exec_restricted(self, script: str, context: dict, external_context: dict | None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        context.update(copy.copy(self.globals))
        context.update(external_context or {})
        context["__builtins__"] = dict(SAFE_BUILTINS)
        try:
            exec(_dedent(script), context)  # allowlisted AST, restricted builtins
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True
