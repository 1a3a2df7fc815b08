"""HTTP edge of the registry: FastAPI app, dependencies, thin routers, problem+json."""
