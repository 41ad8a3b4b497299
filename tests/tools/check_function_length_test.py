#!/usr/bin/env python3
"""Unit tests of tools/check_function_length.py: what counts as a function body, and how long it is."""

import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import check_function_length as checker  # noqa: E402


def lengths(code):
    """{name: (line, length)} of every function body in code (limit 0 reports them all)."""
    return {name: (line, length) for line, name, length in checker.long_functions(code, 0)}


def body(lines):
    return "\n".join(f"  x += {k};" for k in range(lines))


class FunctionLengthTest(unittest.TestCase):
    def test_counts_from_opening_to_closing_brace(self):
        code = f"int f(int x)\n{{\n{body(3)}\n  return x;\n}}\n"
        self.assertEqual(lengths(code), {"f": (1, 6)})

    def test_reports_the_line_of_the_name(self):
        code = f"// head\nstatic std::vector<int>\nFoo::bar(int a,\n         int b) const {{\n{body(2)}\n}}\n"
        self.assertEqual(lengths(code), {"Foo::bar": (3, 4)})

    def test_namespaces_classes_and_enums_are_not_functions(self):
        code = ("namespace a::b {\nnamespace {\nstruct S {\n  int g() const { return 1; }\n  int v{0};\n};\n"
                "enum class E : int { X, Y };\nclass C final : public S {\n public:\n  C() = default;\n"
                "  void h() {\n  }\n};\n}  // namespace\n}  // namespace a::b\n"
                'extern "C" {\nvoid c_api() {}\n}\n'
                "template <class T>\nstruct Box {\n  T get() const { return t; }\n  T t;\n};\n")
        self.assertEqual(set(lengths(code)), {"g", "h", "c_api", "get"})

    def test_lambdas_belong_to_their_function(self):
        code = f"void outer() {{\n  auto f = [&](int y) {{\n{body(5)}\n  }};\n  f(1);\n}}\n"
        self.assertEqual(lengths(code), {"outer": (1, 10)})

    def test_namespace_scope_lambda_is_its_own_function(self):
        code = f"const bool registered = add(\"cpu\", [](const Config& c) {{\n{body(2)}\n  return true;\n}});\n"
        self.assertEqual(lengths(code), {"lambda": (1, 5)})

    def test_constructor_with_member_initializers(self):
        code = f"Foo::Foo(int a) noexcept\n    : x_(a), y_{{a, 2}}, z_{{}} {{\n{body(2)}\n}}\n"
        self.assertEqual(lengths(code), {"Foo::Foo": (1, 4)})

    def test_operators_trailing_return_and_noexcept(self):
        code = ("bool operator==(const A& a, const A& b) { return a.x == b.x; }\n"
                "auto g(int x) -> std::vector<int> {\n  return {x};\n}\n"
                "int S::operator()(int x) const noexcept(true) {\n  return x;\n}\n"
                "S::operator bool() const { return true; }\n")
        self.assertEqual(set(lengths(code)), {"operator==", "g", "S::operator()", "S::operator bool"})

    def test_braces_in_comments_and_literals_do_not_count(self):
        code = ('void f() {\n  // }}}\n  /* { */\n  const char* s = "}}\\"}";\n  char c = \'}\';\n'
                '  char q = \'\\\'\';\n  auto r = R"x(}})" )x";\n  int n = 1\'000\'000;\n'
                '#define CLOSE }\n  g(c);\n}\nvoid h() {}\n')
        self.assertEqual(lengths(code), {"f": (1, 11), "h": (12, 1)})

    def test_cuda_kernels_and_tables_of_data(self):
        code = ("__global__ void __launch_bounds__(256) k(float* x) {\n  x[threadIdx.x] = 0;\n}\n"
                "constexpr int kTable[] = {1, 2, 3};\nconst std::map<std::string, int> kNames{{\"a\", 1}, {\"b\", 2}};\n"
                "int after() { return 0; }\n")
        self.assertEqual(lengths(code), {"k": (1, 3), "after": (6, 1)})

    def test_control_blocks_inside_functions_are_nested(self):
        code = "int f(int n) {\n  for (int i = 0; i < n; ++i) {\n    if (i) {\n    }\n  }\n  return n;\n}\n"
        self.assertEqual(lengths(code), {"f": (1, 7)})

    def test_limit_is_exclusive(self):
        code = f"void f() {{\n{body(78)}\n}}\n"  # 80 lines, brace to brace
        self.assertEqual(list(checker.long_functions(code, 80)), [])
        self.assertEqual(list(checker.long_functions(code, 79)), [(1, "f", 80)])


if __name__ == "__main__":
    unittest.main()
