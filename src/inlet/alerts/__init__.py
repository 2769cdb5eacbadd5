"""Alerts: rules over what the store already knows (pure, in ``rules.py``), a leader loop
that fires and resolves them (``service.py``) and the webhooks they are delivered to
(``deliver.py``)."""
