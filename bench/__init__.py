"""The suite around the science: command line, run directories, provenance, benchmarks."""

PROG = "acktr-bench"


def exit_status_help(module_doc: str) -> str:
    """A command's ``--help`` epilog: the "Exit status: …" paragraph of its module's docstring,
    on one line."""
    paragraph = module_doc.split("Exit status:", 1)[1].split("\n\n", 1)[0]
    return "exit status: " + " ".join(paragraph.replace("``", "").split())
