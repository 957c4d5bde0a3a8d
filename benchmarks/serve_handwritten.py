"""A minimal hand-written FastAPI endpoint for the listings model: the generated one's peer.

What an engineer would write by hand for the same model: load the fitted pipeline with joblib
once, declare the request with pydantic, and call the notebook's feature function and the
model. `NB2PROD_ARTIFACTS` names the folder `train()` wrote. Served by benchmarks/serve_load.py:

    PYTHONPATH=build/listings_deploy:benchmarks uvicorn serve_handwritten:app
"""

from __future__ import annotations

import os

import joblib
import pandas as pd
from fastapi import FastAPI
from listings_deploy.pipeline import features
from pydantic import BaseModel

model = joblib.load(os.path.join(os.environ.get("NB2PROD_ARTIFACTS", "artifacts"), "model.joblib"))
app = FastAPI(title="listings, by hand")


class Listing(BaseModel):
    neighbourhood: str
    bedrooms: int
    bathrooms: int
    price: float
    distance_km: float
    review_score: float
    instant_book: bool


class PredictRequest(BaseModel):
    listing: Listing


@app.post("/predict")
def predict(request: PredictRequest) -> float:
    """The probability that a new listing is booked in its first month."""
    rows = pd.DataFrame([request.listing.model_dump()])
    return float(model.predict_proba(features(rows))[0, 1])


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}
