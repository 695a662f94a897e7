"""Recommender core: implicit-feedback matrices, models, content similarity, popularity, evaluation.

A nightly run, in the order the pieces are used:

    table = <warehouse query: interactions.WAREHOUSE_INTERACTIONS_SQL>  # user_id, item_id, event_type, occurred_at
    result = train_and_evaluate(table, as_of=run_date)       # tune + time-split evaluation + quality gate
    if result.passed_gate:
        result.model.save(path)                              # publish
    user_recommendations(result.model, exclude=..., history=...)   # top-N per person, with reasons
    popular_items(table, as_of=run_date, item_categories=...)      # overall / per category / trending

Everything here is plain Python over Arrow tables and scipy matrices; no module reads the warehouse.
"""

from models_ml.recommend.content import (
    align_neighbours,
    blend_similar_items,
    content_neighbours,
    content_vectors,
)
from models_ml.recommend.evaluate import TrainingResult, evaluate, gate, train_and_evaluate, tune_svd
from models_ml.recommend.interactions import (
    DEFAULT_EVENT_WEIGHTS,
    InteractionMatrix,
    TimeSplit,
    build_interactions,
    per_user_random_split,
    time_split,
)
from models_ml.recommend.models import (
    EASERecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    Recommender,
    SVDRecommender,
    load_model,
)
from models_ml.recommend.outputs import similar_items_table, user_recommendations
from models_ml.recommend.popular import popular_items

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "EASERecommender",
    "InteractionMatrix",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "Recommender",
    "SVDRecommender",
    "TimeSplit",
    "TrainingResult",
    "align_neighbours",
    "blend_similar_items",
    "build_interactions",
    "content_neighbours",
    "content_vectors",
    "evaluate",
    "gate",
    "load_model",
    "per_user_random_split",
    "popular_items",
    "similar_items_table",
    "time_split",
    "train_and_evaluate",
    "tune_svd",
    "user_recommendations",
]
