"""Personal data in a form's fields: a line `Label: value` whose label says what the value is.

Assistants fill in, reformat and translate forms all the time ("- **Surname:** SUBRAMANIAN",
"N° AVS : 756.4829.1736.40", "Birth certificate no.: 4821937", "Nom, prénom : Rochat Léa").
The value has no shape of its own (a name in capitals, an id of any country); the label names
it. One field per line, or per cell of a `|`-separated row; markdown bold and list markers
around the label are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A label, a colon, a value: at a line's start (after a list marker) or after a `|`.
_FIELD = re.compile(
    r"(?:^|(?<=\|))[^\S\n]*(?:[-*•]\s+|\d{1,2}\.\s+)?\**(?P<label>[^\n:*|]{2,48}?)\**[^\S\n]?:[^\S\n]?\**[^\S\n]*"
    r"(?P<value>[^\n|*]{1,90}?)[^\S\n]*\**[^\S\n]*(?=\n|$|\|)", re.MULTILINE)

# What a label names, by the words in it (lower case; several languages).
NAME_WORDS = re.compile(
    r"\b(?:name|full name|surname|last name|first names?|given names?|family name|nom|prénoms?|nom de famille|"
    r"apellidos?|nombres?|apelidos?|nomes?|nome\(s\) próprio\(s\)|cognome|naam|voornaam|achternaam|vorname|nachname|"
    r"applicant|candidate?|insured|policyholder|tenant|guest|pupil|student|passenger|travell?er|employee|patient|"
    r"account holder|holder|beneficiary|recipient|parent|guardian|driver|conducente|conductor|condutor|titular|"
    r"intestatario|segurado|asegurado|assurée?|versicherte[rn]?|mieter|locataire|inquilino|huurder|candidat[oa]?|"
    r"cliente?|klant|kunde|contact person|emergency contact)\b")
ID_WORDS = re.compile(
    r"\b(?:no|nr|n°|nº|n\.º|number|numéro|número|numero|nummer|id|ssn|dl|licen[cs]e|passport|passeport|pasaporte|"
    r"document|avs|rut|iva|vat|tax|nif|nie|dni|cpf|rg|cnh|bsn|permit|certificate|certificat|certidão|insurance|"
    r"sv|steuer|versicherung|kimlik|pesel|nino|aadhaar|pan|nric|hkid|curp|rfc|cuit|cuil)\b")
# Labels of numbers that are not personal data: masking them would only blind the dashboards.
NOT_PERSONAL = re.compile(
    r"\b(?:order|invoice|fattura|factura|facture|rechnung|ticket|booking|reservation|reference|ref|case|claim|"
    r"incident|tracking|flight|room|unit|page|version|step|item|qty|quantity|amount|total|price|date|time|"
    r"policy number|build|commit|port|error|status|code postal|postcode|zip|kw|hours?)\b")
ADDRESS_WORDS = re.compile(r"\b(?:address|adresse|adres|anschrift|dirección|domicilio|indirizzo|morada|endereço|residence)\b")
BIRTH_WORDS = re.compile(
    r"\b(?:date of birth|dob|birth ?date|born|geburtsdatum|geboren|date de naissance|né\(?e?\)? le|fecha de nacimiento|"
    r"data di nascita|data de nascimento|geboortedatum)\b")
PHONE_WORDS = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|gsm|handy|telefon|téléphone|portable|teléfono|telefono|telefone|telemóvel|"
    r"celular|cellulare|mobiel|telefoon|whatsapp)\b")

_NAME_VALUE = re.compile(r"[A-ZÀ-ÝĀ-ɏ][\w'’À-ÿĀ-ɏḀ-ỿ.-]*(?:,?[^\S\n](?:[A-ZÀ-ÝĀ-ɏ][\w'’À-ÿĀ-ɏḀ-ỿ.-]*|(?:de|van|von|der|den|da|di|del|"
                         r"la|le|dos|das|du|bin|al|y|e)))(?:,?[^\S\n](?:[A-ZÀ-ÝĀ-ɏ][\w'’À-ÿĀ-ɏḀ-ỿ.-]*|(?:de|van|von|der|den|da|"
                         r"di|del|la|le|dos|das|du|bin|al|y|e))){0,4}|[A-ZÀ-ÝĀ-ɏ]{2,}(?:-[A-ZÀ-ÝĀ-ɏ]{2,})?")
_ID_VALUE = re.compile(r"(?=[^\n]*\d)[A-Za-z0-9][A-Za-z0-9 ./()-]{2,28}[A-Za-z0-9)]")
_DATE_VALUE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}\.?\s+\w{3,10}\.?\s+\d{4}|\w{3,10}\.?\s+\d{1,2},?\s+\d{4}")
_PHONE_VALUE = re.compile(r"\+?[\d ()./-]{7,22}\d")


def form_field_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each form field's value whose label names personal data."""
    if ":" not in text:
        return
    for match in _FIELD.finditer(text):
        label, value = match.group("label").strip().lower(), match.group("value")
        start, end = match.span("value")
        kind = _kind(label, value)
        if kind:
            yield start, end, kind


def _kind(label: str, value: str) -> str:
    if len(label.split()) > 6:  # a sentence with a colon in it, not a label
        return ""
    if BIRTH_WORDS.search(label):
        return "date_of_birth" if _DATE_VALUE.fullmatch(value) else ""
    if PHONE_WORDS.search(label):
        digits = sum(c.isdigit() for c in value)
        return "phone" if 7 <= digits <= 15 and _PHONE_VALUE.fullmatch(value) else ""
    if ADDRESS_WORDS.search(label):
        return "street_address" if any(c.isdigit() for c in value) and len(value) >= 6 else ""
    if NOT_PERSONAL.search(label):
        return ""
    if ID_WORDS.search(label) and _ID_VALUE.fullmatch(value):
        return "national_id"
    if NAME_WORDS.search(label) and _NAME_VALUE.fullmatch(value) and not any(c.isdigit() for c in value):
        return "person"
    return ""
