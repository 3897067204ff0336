"""Sphinx configuration of Sanad's documentation site (``make docs``; ``make test`` builds it
in strict mode: any warning, a broken link or a missing page among them, fails the build).

The source folder is the repository itself, so that README.md is a page of the site and its
links into docs/ and the code resolve as they do on a forge; only README.md and docs/ are read. Markdown through MyST; the Alabaster theme, with every asset served from the site itself
(no CDN: the site works offline).
"""

project = "Sanad"
author = "Sanad contributors"
copyright = "Sanad contributors"  # noqa: A001 - Sphinx's name

extensions = ["myst_parser"]
source_suffix = {".md": "markdown"}
root_doc = "docs/index"
include_patterns = ["README.md", "docs/**"]
exclude_patterns = [".git", ".venv", ".venv-llm", ".sanad", "build", "reports", "docs/conf.py"]

myst_heading_anchors = 4  # GitHub-style #anchors for headings, as the pages link them
myst_enable_extensions = ["colon_fence"]

html_theme = "alabaster"
html_title = "Sanad"
html_static_path: list[str] = []
html_theme_options = {"description": "Cited answers over Arabic and English documents", "font_family": "sans-serif",
                      "head_font_family": "sans-serif"}
html_show_sourcelink = False
html_show_sphinx = False
