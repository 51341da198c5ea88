"""Quality indicators: aggregate figures only, each suppressed when too few patients stand
behind it."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from carework.bodies import Output

IndicatorName = Literal[
    "active_plans",
    "share_with_work_or_education_goal",
    "goals_achieved",
    "median_days_to_first_work_activity",
    "median_days_to_first_employer_contact",
    "share_reviews_on_time",
]


class IndicatorRead(Output):
    name: IndicatorName
    value: int | float | None = Field(
        description="A count (active_plans), a share between 0 and 1 (share_*, goals_achieved: "
        "achieved among the plans' goals) or a median in days; null when suppressed."
    )
    patients: int | None = Field(
        description="How many distinct patients the figure rests on; null when suppressed."
    )
    suppressed: bool = Field(description="Too few patients to show the figure.")


class IndicatorReport(Output):
    org: str | None = Field(description="The unit or office measured; null for all of them.")
    from_: date = Field(alias="from")
    to: date
    patients: int | None = Field(
        description="Distinct patients with a plan active in the period; null when suppressed."
    )
    indicators: list[IndicatorRead]
