"""Norwegian words for the closed vocabularies and the trail's actions, and the template
filters that show them: the pages and the printed plan (``pdf``) say the same things."""

from __future__ import annotations

from datetime import date, datetime

LABELS: dict[str, str] = {
    # goal domains
    "treatment": "Behandling",
    "work": "Arbeid",
    "education": "Utdanning",
    # goal, plan and activity states
    "proposed": "Foreslått",
    "active": "Aktiv",
    "on_hold": "På vent",
    "achieved": "Oppnådd",
    "not_achieved": "Ikke oppnådd",
    "cancelled": "Avbrutt",
    "draft": "Utkast",
    "completed": "Fullført",
    "closed": "Avsluttet",
    "planned": "Planlagt",
    "in_progress": "Pågår",
    "done": "Gjennomført",
    # activity kinds
    "therapy": "Samtaleterapi",
    "medication_review": "Legemiddelgjennomgang",
    "work_training": "Arbeidstrening",
    "ips_job_search": "Jobbsøking (IPS)",
    "course": "Kurs",
    "benefit_follow_up": "Oppfølging av ytelse",
    "other": "Annet",
    # sides, roles, visibility, consent scopes
    "dps": "DPS",
    "nav": "NAV",
    "patient": "Pasient",
    "clinician": "Behandler",
    "nav_advisor": "NAV-veileder",
    "auditor": "Revisor",
    "shared": "Delt med alle",
    "internal": "Internt",
    "treatment_goals": "Behandlingsmål",
    "treatment_notes": "Notater om behandlingen",
    "digital": "Digitalt",
    "verbal": "Muntlig",
    "written": "Skriftlig",
    # audit outcomes
    "allowed": "Tillatt",
    "denied": "Avvist",
    "failed": "Feilet",
}

#: What an access-log entry did, by the route's action (the audit trail's ``action``).
ACTIONS: dict[str, str] = {
    "read_plan": "Leste planen",
    "patient_plan": "Leste planen",
    "read_plan_pdf": "Lastet ned planen som PDF",
    "patient_read_plan_pdf": "Lastet ned planen som PDF",
    "create_plan": "Opprettet planen",
    "update_plan": "Endret planen",
    "list_plans": "Leste planlisten",
    "search_plans": "Søkte etter planer",
    "read_plan_history": "Leste historikken",
    "plan_access_log": "Leste tilgangsloggen",
    "create_goal": "La til et mål",
    "propose_goal": "Foreslo et mål",
    "patient_propose_goal": "Foreslo et mål",
    "read_goal": "Leste et mål",
    "update_goal": "Endret et mål",
    "add_note": "Skrev et notat",
    "patient_add_note": "Skrev et notat",
    "list_notes": "Leste notatene på et mål",
    "patient_list_notes": "Leste notatene på et mål",
    "create_activity": "La til en aktivitet",
    "read_activity": "Leste en aktivitet",
    "update_activity": "Endret en aktivitet",
    "add_team_member": "La til en person i teamet",
    "record_consent": "Registrerte samtykke",
    "grant_consent": "Ga samtykke",
    "patient_grant_consent": "Ga samtykke",
    "revoke_consent": "Trakk tilbake samtykke",
    "patient_revoke_consent": "Trakk tilbake samtykke",
    "list_consents": "Leste samtykkene",
    "read_active_consent": "Leste samtykkestatus",
}


def label(value: object) -> str:
    text = str(getattr(value, "value", value))
    return LABELS.get(text, text)


def nodate(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


def action(name: str) -> str:
    """In words; the web pages' actions (``ui_...``) read like the API's."""
    return ACTIONS.get(name.removeprefix("ui_"), name)
