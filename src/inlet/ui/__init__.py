"""The dashboard, served by inlet itself under ``/ui/`` (``/`` redirects to the runs):
server-rendered pages (``templates/``), a stylesheet and small plain-JS files
(``static/``), live updates over Server-Sent Events, and in ``inlet start`` a login with
sessions (``guard.py``). Pages read through the store's read model and change things
only through the services the REST API uses."""
