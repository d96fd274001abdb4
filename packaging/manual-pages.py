#!/usr/bin/env python3
"""Writes a manual page (man 1) for every command of `verdict`, from the command's own --help.

    manual-pages.py HELP_JSON VERDICT OUTPUT_DIR VERSION

HELP_JSON is what `verdict --experimental-dump-help` prints (the command tree); each page holds NAME (the
command and its abstract) and the command's --help text as it prints it, so the pages never drift from the code.
The pages are verdict.1, verdict-serve.1, verdict-wazuh-install.1, and so on.
"""
import json
import os
import subprocess
import sys


def roff_text(text):
    """The text as roff shows it verbatim: backslashes escaped, no line read as a request."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def commands(command, path):
    """Every command of the tree, with the words that call it."""
    yield path, command
    for sub in command.get("subcommands", []):
        if sub.get("commandName") == "help":
            continue
        yield from commands(sub, path + [sub["commandName"]])


def main():
    help_json, verdict, output, version = sys.argv[1:5]
    tree = json.load(open(help_json))["command"]
    written = 0
    for path, command in commands(tree, ["verdict"]):
        help_text = subprocess.run(
            [verdict] + path[1:] + ["--help"], check=True, capture_output=True, text=True,
            env={**os.environ, "COLUMNS": "100"},
        ).stdout
        name = "-".join(path)
        abstract = command.get("abstract", "").replace("\\", "\\e")
        page = "\n".join([
            f'.TH {name.upper()} 1 "" "verdict {version}" "Verdict manual"',
            ".SH NAME",
            f"{name} \\- {abstract}",
            ".SH SYNOPSIS AND OPTIONS",
            ".nf",
            roff_text(help_text),
            ".fi",
            ".SH SEE ALSO",
            "verdict(1); /usr/share/doc/verdict/README.md.gz and contracts.md.gz",
            "",
        ])
        with open(os.path.join(output, name + ".1"), "w") as page_file:
            page_file.write(page)
        written += 1
    if written < 2:
        sys.exit("manual-pages.py: the help tree names no subcommands")


if __name__ == "__main__":
    main()
