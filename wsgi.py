"""WSGI entry point: `gunicorn wsgi:app` (and `flask run`)."""
from app import create_app
from app.engine import boot

app = create_app()
boot(app)  # deploy new BPMN versions; start the in-process scheduler when SCHEDULER_ENABLED=1
