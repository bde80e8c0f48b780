"""The demo page at `/`: a form built from the model's schema, its answer, the model card.

Plain files in static/ (HTML, CSS, a little JavaScript), served as they are: no data and
no key inside them. The page reads /model (schema, example row) and /model-card in the
browser, with the API key the visitor types in (kept in sessionStorage) when API_KEY is
set, and sends the form to /predict like any client. DEMO_PAGE=false leaves it out (404).
"""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def add_demo_page(app: FastAPI) -> None:
    app.mount("/demo", StaticFiles(directory=STATIC), name="demo")

    @app.get("/", include_in_schema=False)
    async def demo_page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")
