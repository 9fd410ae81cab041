#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The installed manual pages against what they describe:
  sluiced(8)     names exactly the options `sluiced --help` lists;
  sluicectl(8)   names exactly the commands and options of the whole
                 `sluicectl ... --help` tree;
  sluice.yaml(5) names exactly the keys the config parser accepts
                 (the check_keys() lists in control/**/*.cc).
Usage: check_manpages.py MANDIR SLUICED SLUICECTL SOURCE_ROOT
Prints one line per difference; exit 0 when there is none."""
import glob
import re
import subprocess
import sys

BOLD = re.compile(r"\\fB(.*?)\\fR")


def run_help(argv):
    p = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} --help: exit {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def help_sections(text):
    """{'Options': [...lines], 'Subcommands': [...]} of CLI11's help."""
    sections, current = {}, None
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):$", line)
        if m:
            current = sections.setdefault(m.group(1), [])
        elif current is not None and line.strip():
            current.append(line)
    return sections


def help_flags(text):
    flags = set()
    for line in help_sections(text).get("Options", []):
        m = re.match(r"^\s{1,4}(-\S+)", line)
        if m:
            flags.update(f for f in m.group(1).split(",") if f.startswith("-"))
    return flags


def help_subcommands(text):
    return [re.match(r"^\s+(\S+)", line).group(1)
            for line in help_sections(text).get("Subcommands", [])
            if re.match(r"^\s{1,4}\S", line)]


def command_tree(binary, path=()):
    """Leaf command paths and every flag of the tree under `path`."""
    text = run_help([binary, *path])
    flags, leaves = help_flags(text), set()
    subs = help_subcommands(text)
    if path and not subs:
        leaves.add(" ".join(path))
    for sub in subs:
        l, f = command_tree(binary, path + (sub,))
        leaves |= l
        flags |= f
    return leaves, flags


def roff(path):
    with open(path) as f:
        return f.read().replace("\\-", "-").replace("\\&", "")


def section(page, name):
    m = re.search(r"^\.SH " + re.escape(name) + r"\n(.*?)(?=^\.SH |\Z)", page, re.S | re.M)
    return m.group(1) if m else ""


def page_flags(text):
    return {w for b in BOLD.findall(text) for w in b.split() if re.fullmatch(r"--?[a-z][-a-z]*", w)}


def definition_heads(text):
    """The term lines of scdoc's definitions (the line before an indented
    block), e.g. '\\fBvip add\\fR \\fISERVICE\\fR'."""
    lines = text.splitlines()
    return [line for line, after in zip(lines, lines[1:] + [""])
            if after.startswith(".RS") and BOLD.match(line)]


def compare(what, in_page, in_program, program):
    out = []
    for x in sorted(in_program - in_page):
        out.append(f"{what}: {program} has {x!r}, the page does not")
    for x in sorted(in_page - in_program):
        out.append(f"{what}: the page has {x!r}, {program} does not")
    return out


def config_keys(source_root):
    keys = set()
    for path in glob.glob(f"{source_root}/control/**/*.cc", recursive=True):
        text = open(path).read()
        for m in re.finditer(r"check_keys\([^{;]*\{([^}]*)\}", text):
            keys.update(re.findall(r'"([a-z_]+)"', m.group(1)))
    return keys


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    mandir, sluiced, sluicectl, src = sys.argv[1:]
    problems = []

    page = roff(f"{mandir}/man8/sluiced.8")
    problems += compare("sluiced(8) OPTIONS", page_flags(section(page, "OPTIONS")),
                        help_flags(run_help([sluiced])), "sluiced --help")
    problems += compare("sluiced(8) SYNOPSIS", page_flags(section(page, "SYNOPSIS")),
                        page_flags(section(page, "SYNOPSIS")) & help_flags(run_help([sluiced])),
                        "sluiced --help")

    page = roff(f"{mandir}/man8/sluicectl.8")
    leaves, flags = command_tree(sluicectl)
    commands = section(page, "COMMANDS")
    heads = set()
    for head in definition_heads(commands):
        heads.add(BOLD.match(head).group(1))
    problems += compare("sluicectl(8) COMMANDS", heads, leaves, "sluicectl --help")
    problems += compare("sluicectl(8) options",
                        page_flags(section(page, "OPTIONS")) | page_flags(commands),
                        flags, "sluicectl ... --help")

    page = roff(f"{mandir}/man5/sluice.yaml.5")
    documented = {m.group(1) for m in (re.match(r"\\fB([a-z_]+)\\fR:", h)
                                       for h in definition_heads(page)) if m}
    problems += compare("sluice.yaml(5) keys", documented, config_keys(src), "the parser")

    for p in problems:
        print(p)
    if not problems:
        print(f"man pages agree: {len(leaves)} sluicectl commands, {len(flags)} sluicectl flags, "
              f"{len(documented)} config keys")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
