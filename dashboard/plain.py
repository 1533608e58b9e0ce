"""Text from a scenario, a model or an experimenter, shown as text and never as markup.

Streamlit reads Markdown in nearly every element that takes a string: st.markdown,
captions, headers, alerts, expander, tab and widget labels. Its Markdown is more
than CommonMark: raw HTML, GitHub autolinks (``http://...``, ``www.``, e-mail
addresses), strikethrough, LaTeX between dollars, ``:red[...]`` directives, emoji
shortcodes, ``:streamlit:`` and ``:material/...:`` icons, and arrows made of
``->`` or ``<=``. A persona named ``[Ann](http://...)`` became a link, and
``![x](http://...)`` in a whispered line an image the browser fetched.

Every piece of data text bound for such an element goes through ``md``. Elements
that show a string as it is (st.text, st.dataframe, selectbox options, Vega
charts, whose tooltips escape HTML) take data text unchanged: escaping there
would show the backslashes.
"""

from __future__ import annotations

import re

LABEL_CHARS = 200  # a title or an expander label longer than this is cut

WORD_JOINER = "\u2060"  # invisible; splits a pattern that Streamlit rewrites after escapes are resolved
# CommonMark lets a backslash escape any ASCII punctuation character. Escaped here: every one that
# opens syntax within a line (the rest are inert there: , ; ? / % ' " and -).
_SYNTAX = re.compile(r"""([!#$&()*+.:<=>@\[\\\]^_`{|}~])""")
# Streamlit rewrites some text after the Markdown is parsed, when escapes are gone: shortcodes
# (:smile:, :streamlit:, :material_x:) become icons, the arrows <-> -> <- -- >= <= ~= symbols, and
# http://..., www.... and e-mail addresses links. A word joiner inside each pattern stops that.
_REWRITTEN = re.compile(r"(?<=[:@])(?=[\w+/-])|(?<=[<>~-])(?=[->=])|(?<=www)(?=\.)", re.IGNORECASE)


def md(text: object, limit: int | None = None) -> str:
    """``text`` as Markdown that shows exactly that text (on one line, cut to ``limit`` characters).

    Line breaks and runs of spaces become one space: in Markdown they would
    start lists, headings, tables or code blocks, and the elements this is for
    are one-line titles, labels and captions (longer text goes to st.text).
    """
    shown = clip(" ".join(str(text).split()), limit)
    shown = _REWRITTEN.sub(WORD_JOINER, shown)
    shown = _SYNTAX.sub(r"\\\1", shown)
    return "\\" + shown if shown.startswith("-") else shown  # a list item at the start of a line


def clip(text: str, limit: int | None) -> str:
    """``text`` cut to ``limit`` characters, ending with an ellipsis when it was cut."""
    if limit is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
