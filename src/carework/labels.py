"""Norwegian words for the closed vocabularies and the trail's actions, and the template
filters that show them: the pages and the printed plan (``pdf``) say the same things."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

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
    "access_log": "Leste tilgangsloggen",
    "agree_to_goal": "Sa seg enig i et mål",
    "agree_to_activity": "Sa seg enig i en aktivitet",
    "withdraw_goal_agreement": "Trakk tilbake enighet om et mål",
    "withdraw_activity_agreement": "Trakk tilbake enighet om en aktivitet",
    "mark_goal_entered_in_error": "Merket et mål som registrert ved en feil",
    "mark_activity_entered_in_error": "Merket en aktivitet som registrert ved en feil",
    "mark_note_entered_in_error": "Merket et notat som registrert ved en feil",
    "mark_plan_seen": "Markerte planen som lest",
    "create_meeting": "Opprettet et møte",
    "update_meeting": "Endret et møte",
    "list_meetings": "Leste møtene",
    "release_meeting_minutes": "Delte møtereferatet",
    "record_evaluation": "Registrerte en evaluering",
    "list_evaluations": "Leste evalueringene",
    "goal_achievements": "Leste måloppnåelsen",
    "overdue_reviews": "Leste forsinkede evalueringer",
    "plan_status": "Leste planens status",
    "indicators": "Leste nøkkeltall",
    "list_events": "Leste hendelsene",
    "read_change_feed": "Leste endringsstrømmen",
    "fhir_read_care_plan": "Leste planen (FHIR)",
    "fhir_search_goals": "Søkte etter mål (FHIR)",
    "verify": "Kontrollerte revisjonssporet",
    "start_verification": "Startet kontroll av revisjonssporet",
    "read_verification": "Leste kontrollen av revisjonssporet",
    "healthz": "Helsesjekk",
    "readyz": "Helsesjekk",
    "metrics": "Leste driftsmålinger",
    "home": "Åpnet forsiden",
    "login": "Logget inn",
    "login_page": "Åpnet innloggingen",
    "logout": "Logget ut",
}

#: The plan's history in words, by change type (``vocab.EventType``).
EVENTS: dict[str, str] = {
    "plan.created": "opprettet planen",
    "plan.updated": "endret planen",
    "plan.reviewed": "evaluerte planen",
    "goal.created": "la til et mål",
    "goal.updated": "endret et mål",
    "goal.entered_in_error": "merket et mål som registrert ved en feil",
    "goal.agreed": "sa seg enig i et mål",
    "goal.agreement_withdrawn": "trakk tilbake enighet om et mål",
    "goal.agreements_cleared": "endret et mål, så enigheten må gis på nytt",
    "activity.created": "la til en aktivitet",
    "activity.updated": "endret en aktivitet",
    "activity.entered_in_error": "merket en aktivitet som registrert ved en feil",
    "activity.agreed": "sa seg enig i en aktivitet",
    "activity.agreement_withdrawn": "trakk tilbake enighet om en aktivitet",
    "activity.agreements_cleared": "endret en aktivitet, så enigheten må gis på nytt",
    "note.added": "skrev et notat",
    "note.entered_in_error": "merket et notat som registrert ved en feil",
    "consent.granted": "registrerte samtykke",
    "consent.revoked": "trakk tilbake samtykke",
    "team.member_added": "la til en person i teamet",
    "meeting.created": "opprettet et møte",
    "meeting.updated": "endret et møte",
    "meeting.released": "delte møtereferatet",
}

#: Times are shown as people in Norway read them, whatever the server's zone.
OSLO = ZoneInfo("Europe/Oslo")


def label(value: object) -> str:
    text = str(getattr(value, "value", value))
    return LABELS.get(text, text)


def nodate(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


def action(name: str) -> str:
    """In words; the web pages' actions (``ui_...``) read like the API's. One not listed
    (a new route) reads as such, never as its code."""
    words = ACTIONS.get(name.removeprefix("ui_"), "Annen handling")
    return f"{words} (på nettsidene)" if name.startswith("ui_") else words


def event(kind: object) -> str:
    """A change to the plan in words (``vocab.EventType``)."""
    text = str(getattr(kind, "value", kind))
    return EVENTS.get(text, "gjorde en endring")
