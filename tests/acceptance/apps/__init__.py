"""SDK apps served by uvicorn in acceptance tests (official `inngest` SDK, FastAPI)."""
