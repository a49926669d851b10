"""Keyboard behaviour Streamlit does not give: Escape closes the open dialog even when a table has the focus.

A table (Glide Data Grid) keeps the keyboard after a click and takes Escape for itself, so the row dialog that
the click opened did not close. A listener in the capture phase sees Escape first and presses the dialog's
close button, which runs the dialog's `on_dismiss` as a click on it would.
"""

from __future__ import annotations

import streamlit as st

_ESCAPE_CLOSES_DIALOG = """
<script>
if (!window.zipfitEscapeClosesDialog) {
  window.zipfitEscapeClosesDialog = true;
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const dialog = document.querySelector("[role='dialog']");
    const close = dialog && dialog.querySelector("button[aria-label='Close']");
    if (close) {
      event.stopPropagation();
      close.click();
    }
  }, true);
}
</script>
"""


def escape_closes_dialogs() -> None:
    """Once per page: Escape closes an open dialog wherever the focus is."""
    st.html(_ESCAPE_CLOSES_DIALOG, unsafe_allow_javascript=True)
