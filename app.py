"""ZIP-FIT Studio, the browser app: `streamlit run app.py`.

This entry point is the frame around every page: navigation, the session restored from the link,
the sidebar, and the URL kept in step with the view. The pages live in pages/; the Streamlit glue
in zipfit_app/; every number comes from zipfit_core.
"""

from pathlib import Path

import streamlit as st

from zipfit_app.session import restore_session, show_link_problems, sidebar
from zipfit_app.view import write_to_url

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="ZIP-FIT Studio", page_icon=":material/compress:", layout="wide")

pages = [
    st.Page(HERE / "pages/1_Data.py", title="Data", icon=":material/database:", url_path="data", default=True),
    st.Page(HERE / "pages/2_Score.py", title="Score", icon=":material/speed:", url_path="score"),
    st.Page(HERE / "pages/3_Explore.py", title="Explore", icon=":material/insights:", url_path="explore"),
]
if (HERE / "pages/4_Compare.py").exists():  # owned by the comparison work; shown once it exists
    pages.append(st.Page(HERE / "pages/4_Compare.py", title="Compare", icon=":material/compare_arrows:",
                         url_path="compare"))
pages.append(st.Page(HERE / "pages/5_Export.py", title="Export", icon=":material/download:", url_path="export"))

page = st.navigation(pages)
restore_session()
sidebar()
show_link_problems()
page.run()
write_to_url()
