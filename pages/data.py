"""Data: choose the source pool (texts to select from) and the target set (examples of your task)."""

import streamlit as st

from zipfit_app import datasets
from zipfit_app.forms import data_form, preset_buttons
from zipfit_app.frame import require_frame

require_frame()  # a first request naming this page runs it alone: draw the whole app instead

st.title("Data")
st.markdown(
    "ZIP-FIT ranks every text of a **source pool** by how well it compresses together with a small "
    "**target set**: examples of the task you care about. Start with a demo, or bring your own data."
)

st.subheader("Try a demo", divider="gray")
st.caption("One click loads a mixed pool of a few thousand texts (formal maths, Python, word problems, prose) "
           "and a target set. With ProofNet as target, formal maths should rise to the top; with HumanEval, code.")
preset_buttons()

st.subheader("Or choose each dataset", divider="gray")
columns = st.columns(2, gap="large")
for column, role in zip(columns, datasets.ROLES):
    with column.container(border=True):
        st.markdown(f"#### {datasets.ROLE_TITLES[role]}")
        st.caption("The texts to choose from." if role == "source"
                   else "Examples of your task (a few dozen to a few hundred).")
        data_form(role)

if datasets.current_choice("source") and datasets.current_choice("target"):
    if st.button("Next: score the pool against the targets", type="primary", icon=":material/arrow_forward:"):
        st.switch_page("pages/score.py")
