#!/usr/bin/env python3
"""Reports every function body in the library folders that is longer than the limit (80 lines).

A function body is counted from the line of its opening brace to the line of its closing brace,
both included. Lambdas count as part of the function that encloses them; class, struct, union,
enum and namespace bodies are not functions (their member functions are). A lambda outside any
function (a namespace-scope initializer) is reported as a function of its own.

The scanner tracks brace depth, skipping comments, string, raw-string and character literals and
preprocessor lines; it decides whether a brace opens a function from the text before it. That is
not a C++ parser: tests/tools/check_function_length_test.py pins what it must get right, and on this
project's code it finds the same function definitions as Universal Ctags.

Exit status: 0 when no function is too long, 1 when some are (listed as `path:line name (N lines)`,
the line being that of the function's name), 2 on bad usage.
"""

import argparse
import bisect
import re
import sys
from pathlib import Path

DEFAULT_FOLDERS = ("models", "traces", "sim", "kernels")
SUFFIXES = (".cpp", ".hpp", ".cu", ".cuh")
DEFAULT_LIMIT = 80

# What may follow a function's parameter list before its body.
TRAILING_QUALIFIERS = re.compile(
    r"(\s+|\bconst\b|\bvolatile\b|\bnoexcept\b|\boverride\b|\bfinal\b|\bmutable\b|\bconstexpr\b"
    r"|\btry\b|&&|&|\[\[[^\]]*\]\])*$")
SCOPE_KEYWORDS = re.compile(r"^(?:(?:inline\s+)?namespace\b|(?:class|struct|union|enum)\b|extern\s*\"\")")
NAME_BEFORE_PARAMS = re.compile(
    r"((?:[A-Za-z_][\w:]*::)?(?:operator\s*\(\s*\)|operator\s*[^\s\w(]+|operator\s+[\w:]+)"
    r"|~?[A-Za-z_][\w:~]*(?:<[^()]*>)?)\s*$")


def is_raw_string_prefix(text, quote):
    """Whether the '"' at offset quote opens a raw string literal (R"(...)", u8R"x(...)x")."""
    prefix = re.search(r"(?:u8|[uUL])?R$", text[max(0, quote - 3):quote])
    if not prefix:
        return False
    before = quote - len(prefix.group(0)) - 1
    return before < 0 or not (text[before].isalnum() or text[before] == "_")


def strip_code(text):
    """text with comments, the insides of literals and preprocessor lines blanked.

    Blanked characters become spaces (newlines kept) and literals become "" or '' so that the
    brace scanner sees only code; offsets and line numbers are unchanged.
    """
    out = list(text)
    i, n = 0, len(text)
    at_line_start = True

    def blank(start, end):
        for k in range(start, end):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            at_line_start = True
            i += 1
            continue
        if at_line_start and c in " \t":
            i += 1
            continue
        if at_line_start and c == "#":  # preprocessor line, with its continuations
            j = i
            while j < n and not (text[j] == "\n" and text[j - 1] != "\\"):
                j += 1
            blank(i, j)
            i = j
            continue
        at_line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == '"':
            if is_raw_string_prefix(text, i):
                delim_end = text.find("(", i)
                delim = text[i + 1:delim_end]
                j = text.find(")" + delim + '"', delim_end)
                j = n if j < 0 else j + len(delim) + 2
            else:
                j = i + 1
                while j < n and text[j] != '"':
                    j += 2 if text[j] == "\\" else 1
                j = min(j + 1, n)
            blank(i + 1, j - 1)
            i = j
        elif c == "'":
            # A digit separator (1'000'000) follows a number; a character literal follows anything
            # else, possibly an encoding prefix (u8'a', L'a').
            k = i
            while k > 0 and (text[k - 1].isalnum() or text[k - 1] in "_."):
                k -= 1
            if k < i and text[k].isdigit():
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != "'" and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            blank(i + 1, j - 1)
            i = j
        else:
            i += 1
    return "".join(out)


def matching_open(header, close_index, open_char, close_char):
    """Index of the bracket that opens the group closed at close_index, or -1."""
    depth = 0
    for k in range(close_index, -1, -1):
        if header[k] == close_char:
            depth += 1
        elif header[k] == open_char:
            depth -= 1
            if depth == 0:
                return k
    return -1


def top_level_positions(header, pattern):
    """Start offsets of pattern outside any (), [] or {} group of header."""
    depth = 0
    found = []
    for k, ch in enumerate(header):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and header.startswith(pattern, k):
            found.append(k)
    return found


def function_name(header):
    """The name of the function whose body follows header, or None if the brace opens no function.

    header is the code since the previous statement or block at the same depth, with the inside of
    the blocks it contains blanked (member initializers such as x_{a}).
    """
    head = " ".join(header.split())
    while re.match(r"template\s*<", head):  # template <...> prefixes
        open_at = head.find("<")
        depth = 0
        for k in range(open_at, len(head)):
            depth += {"<": 1, ">": -1}.get(head[k], 0)
            if depth == 0:
                head = head[k + 1:].lstrip()
                break
        else:
            return None
    head = re.sub(r"^(\[\[[^\]]*\]\]\s*)+", "", head)
    if not head or SCOPE_KEYWORDS.match(head):
        return None
    # A constructor's member initializer list: cut at the single ':' that follows the parameters.
    for colon in top_level_positions(head, ":"):
        if head[colon - 1:colon] != ":" and head[colon + 1:colon + 2] != ":" and ")" in head[:colon]:
            if TRAILING_QUALIFIERS.sub("", head[:colon]).endswith(")"):
                # The body follows a complete initializer; x_{ is a member's brace initializer.
                if not head[colon + 1:].rstrip().endswith((")", "}")):
                    return None
                head = head[:colon]
                break
    arrows = [a for a in top_level_positions(head, "->") if ")" in head[:a]]
    if arrows:  # trailing return type
        head = head[:arrows[0]]
    head = TRAILING_QUALIFIERS.sub("", head)
    if head.endswith("]"):  # a lambda without parameters: [&] {
        open_at = matching_open(head, len(head) - 1, "[", "]")
        before = head[:open_at].rstrip()
        return "lambda" if open_at >= 0 and (not before or before[-1] in "=(,") else None
    if not head.endswith(")"):
        return None
    if re.search(r"\bnoexcept\s*\([^()]*\)$", head):  # noexcept(expression)
        head = TRAILING_QUALIFIERS.sub("", re.sub(r"\bnoexcept\s*\([^()]*\)$", "", head))
    open_at = matching_open(head, len(head) - 1, "(", ")")
    if open_at <= 0:
        return None
    before = head[:open_at].rstrip()
    if before.endswith("]"):
        return "lambda"
    match = NAME_BEFORE_PARAMS.search(before)
    if not match:
        return None
    name = match.group(1)
    if name in ("if", "for", "while", "switch", "catch", "return", "sizeof", "decltype", "alignof"):
        return None
    return name


def blank_inner_blocks(code, start, end):
    """code[start:end] with the inside of each complete {...} blanked, offsets unchanged."""
    out = list(code[start:end])
    depth = 0
    for k, ch in enumerate(out):
        if ch == "}":
            depth -= 1
        if depth > 0:
            out[k] = " "
        if ch == "{":
            depth += 1
    return "".join(out)


def opens_scope(header):
    """Whether header introduces a namespace, class, struct, union, enum or extern "C" body."""
    head = " ".join(header.split())
    head = re.sub(r"^template\s*<.*?>\s*", "", head)
    head = re.sub(r"^(\[\[[^\]]*\]\]\s*)+", "", head)
    return bool(SCOPE_KEYWORDS.match(head))


def line_finder(code):
    line_starts = [0] + [k + 1 for k, ch in enumerate(code) if ch == "\n"]
    return lambda offset: bisect.bisect_right(line_starts, offset)


def name_offset(header, name):
    """Offset in header of the function name: its last occurrence followed by ( or <."""
    found = -1
    for match in re.finditer(re.escape(name) + r"\s*[(<]", header):
        found = match.start()
    return found


def long_functions(text, limit):
    """Yields (line, name, length) for each function body of text longer than limit lines."""
    code = strip_code(text)
    line_of = line_finder(code)
    # Blocks open outside functions: (kind, statement start of the enclosing level); kind is scope
    # (namespace, class...) or other (a brace initializer, a table); functions are tracked apart.
    stack = []
    statement_start = 0  # where the code before the next brace began, at the current level
    function = None  # (name, name line, offset of the opening brace) of the function being read
    depth_in_function = 0
    for k, ch in enumerate(code):
        if function:
            if ch == "{":
                depth_in_function += 1
            elif ch == "}":
                depth_in_function -= 1
                if depth_in_function == 0:
                    name, name_line, open_at = function
                    length = line_of(k) - line_of(open_at) + 1
                    if length > limit:
                        yield name_line, name, length
                    function = None
                    statement_start = k + 1
            continue
        if ch == ";":
            statement_start = k + 1
        elif ch == "{":
            header = blank_inner_blocks(code, statement_start, k)
            name = function_name(header)
            if name:
                at = name_offset(header, name) if name != "lambda" else -1
                name_line = line_of(statement_start + at) if at >= 0 else line_of(k)
                function = (name, name_line, k)
                depth_in_function = 1
            else:
                stack.append(("scope" if opens_scope(header) else "other", statement_start))
                statement_start = k + 1
        elif ch == "}" and stack:
            kind, enclosing_start = stack.pop()
            # After a brace initializer the statement goes on (x_{a}, y_{b} { ... } or T v{1};).
            statement_start = enclosing_start if kind == "other" else k + 1


def scan(root, folders, limit):
    offenders = []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            raise FileNotFoundError(f"{base}: no such folder")
        for path in sorted(p for p in base.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
            text = path.read_text(encoding="utf-8", errors="replace")
            for line, name, length in long_functions(text, limit):
                offenders.append((path.relative_to(root).as_posix(), line, name, length))
    return offenders


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="repository root (default: the one holding this script)")
    parser.add_argument("--max-lines", type=int, default=DEFAULT_LIMIT,
                        help=f"longest allowed function body, in lines (default {DEFAULT_LIMIT})")
    parser.add_argument("folders", nargs="*", default=list(DEFAULT_FOLDERS),
                        help="folders under the root to scan (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.max_lines < 1:
        parser.error("--max-lines must be at least 1")
    try:
        offenders = scan(args.root, args.folders, args.max_lines)
    except FileNotFoundError as error:
        print(f"check_function_length: {error}", file=sys.stderr)
        return 2
    for path, line, name, length in offenders:
        print(f"{path}:{line} {name} ({length} lines)")
    if offenders:
        print(f"{len(offenders)} function(s) longer than {args.max_lines} lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
