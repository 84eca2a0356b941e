"""Display helpers every layer may use: static HTML (:mod:`.html`), cell text for tables
(:mod:`.cells`) and the mimebundle that adds an interactive view inside a kernel
(:mod:`.bundle`).

They import nothing heavy at module level; the interactive views themselves live in
:mod:`nbmlops.widgets` and are plugged into :mod:`.bundle` from the top package.
"""
