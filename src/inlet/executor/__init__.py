"""Workers that claim due queue items, call the apps and apply what the apps answer."""
