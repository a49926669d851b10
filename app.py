"""ZIP-FIT Studio, the browser app: `streamlit run app.py`.

The frame around every page (navigation, the session restored from the link, the sidebar, the URL kept in
step with the view) is `zipfit_app.frame`; the pages live in pages/, each file named as its URL path
(pages/score.py is /score); the Streamlit glue in zipfit_app/; every number comes from zipfit_core.
"""

from zipfit_app.frame import run_app

run_app()
