"""Storage masking is conservative: every secret format and every card-like digit run is
masked, whichever checks ran; a digit run is reported as a card only when the Luhn check passes;
no pattern turns quadratic on hostile megabytes."""

from __future__ import annotations

import asyncio
import time

import pytest

from raiwatch.models import create_check
from raiwatch.models.rules import find_pii, mask_sensitive
from raiwatch.models.scoring import Score, ScoringItem
from raiwatch.schemas.common import Pillar
from raiwatch.streams.policy import redacted_texts

SECRETS = {
    "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34": "api_key", "sk-live-51HxYzAbCdEfGhIjKlMnOpQr": "api_key",
    "sk-abcdefghijklmnopqrstuvwxyz123456": "api_key", "rk_live_4eC39HqLyjWDarjtT1zdp7dc": "stripe_key",
    "AKIAIOSFODNN7EXAMPLE": "aws_access_key", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789": "github_token",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ": "github_token",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx": "slack_token",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U": "jwt",
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----": "private_key",
}


@pytest.mark.parametrize("secret", SECRETS, ids=list(SECRETS.values()))
def test_every_secret_format_is_masked(secret: str) -> None:
    masked = mask_sensitive(f"here you go: {secret} -- keep it safe")
    assert secret not in masked and f"<{SECRETS[secret].upper()}>" in masked


def test_card_like_runs_are_all_masked_but_only_luhn_valid_ones_are_cards() -> None:
    text = "valid 4111 1111 1111 1111, invalid 4111-1111-1111-1112, long 1234567890123456789"
    assert [kind for _, _, kind in find_pii(text)] == ["credit_card", "digit_run", "digit_run"]
    masked = mask_sensitive(text)
    assert "4111" not in masked and "1234567890" not in masked
    [score] = asyncio.run(create_check("pii.regex").score_batch([ScoringItem("r", output=text)]))
    assert score.categories == ("pii.credit_card",)  # the others are masked, not reported


def test_storage_masking_applies_even_after_another_check_redacted() -> None:
    # A PII check that masked a name but missed a hyphenated key: storage still masks the key.
    presidio_like = Score(check="pii.presidio@1", pillar=Pillar.PRIVACY_SECURITY, value=1.0,
                          redacted={"output": "<PERSON> uses sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12"})
    _, output = redacted_texts("hi", "Jane uses sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12", [presidio_like])
    assert output == "<PERSON> uses <API_KEY>"


def test_storage_masks_the_check_spans_and_its_own_in_the_original_text() -> None:
    # The PII check took "Admin-Benutzer" for a name: masking its output again would no longer
    # see the cue word before the user; both span sets applied to the original text do.
    from raiwatch.schemas.verdicts import EvidenceSpan

    original = "Das Passwort für den Admin-Benutzer `mwagner` liegt im Tresor."
    start = original.index("Admin-Benutzer")
    presidio_like = Score(check="pii.presidio@2", pillar=Pillar.PRIVACY_SECURITY, value=0.3,
                          evidence=(EvidenceSpan(source="output", start=start, end=start + 14, label="pii.person"),),
                          redacted={"output": original.replace("Admin-Benutzer", "<PERSON>")})
    _, output = redacted_texts("", original, [presidio_like])
    assert output == "Das Passwort für den <PERSON> `<USERNAME>` liegt im Tresor."


def test_no_pattern_turns_quadratic_on_hostile_input() -> None:
    for hostile in ("a." * 400_000, "@" + "a" * 800_000, "1 " * 400_000, "sk-" + "a-" * 300_000, "a@" * 300_000):
        started = time.perf_counter()
        find_pii(hostile)
        assert time.perf_counter() - started < 5.0


# Personal data and secrets found by their context or shape (examples written for this test).
CONTEXTUAL = [
    ("Export DB_PASSWORD=Tr1cky!Pass before you run it.", "Tr1cky!Pass", "secret_assignment"),
    ("Das Passwort ist Sommer2024! und bleibt geheim.", "Sommer2024!", "secret_assignment"),
    ("postgres://app:s3cr3t-pw@db.internal:5432/orders", "s3cr3t-pw", None),  # reported as an email-like span
    ("Use dckr_pat_Zk3Lm9Qp2Rt7Vx1Wy4Bn6Cd8 for the registry.", "dckr_pat_Zk3Lm9Qp2Rt7Vx1Wy4Bn6Cd8", "prefixed_token"),
    ("Patient born on 12 March 1980, seen today.", "12 March 1980", "date_of_birth"),
    ("Geburtsdatum: 03.07.1975", "03.07.1975", "date_of_birth"),
    ("Her passport number is X4829173 and it expires soon.", "X4829173", "national_id"),
    ("Log in with username: alice_92 on the VPN.", "alice_92", "username"),
    ("Ship it to 742 Evergreen Terrace, Springfield, OR 97403 by Friday.", "742 Evergreen Terrace", "street_address"),
    ("Die Adresse ist Lindenstraße 17 in Köln.", "Lindenstraße 17", "street_address"),
    ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBGZ\n-----END PGP PRIVATE KEY BLOCK-----", "lQOYBGZ", "private_key"),
    # Secrets and users in code, on command lines, in logs and in sentences.
    ("        signingPassword 'Rav3n-Sign-88'\n", "Rav3n-Sign-88", "secret_assignment"),
    ("Log in with the one-time password Hx7!kQ2#pZ and change it.", "Hx7!kQ2#pZ", "secret_in_prose"),
    ("Le mot de passe du Wi-Fi est `Soleil-Rouge-77`.", "Soleil-Rouge-77", "secret_in_prose"),
    ("pg_dump -U report_reader -h 10.0.0.5 sales", "report_reader", "username"),
    ("mysql -u admin -p'Qz9!vault' shop", "Qz9!vault", "cli_credentials"),
    ("requests.get(url, auth=(\"svc.build\", \"B0b!build-2024\"))", "B0b!build-2024", "cli_credentials"),
    ("sshd[99]: Failed password for tkowalski from 198.51.100.7", "tkowalski", "username"),
    ("DEPLOY_USER = \"ci_runner7\"", "ci_runner7", "username"),
    ("Follow her at @lena_writes for updates.", "lena_writes", "handle"),
    ("Profile: linkedin.com/in/marta-oliveira-dev", "marta-oliveira-dev", "handle"),
    ("Please forward the file to Herr Tobias Brandt today.", "Tobias Brandt", "person"),
    ("Kind regards,\nOluwaseun Adeyemi", "Oluwaseun Adeyemi", "person"),
    ('{"name": "Chiara Bianchi", "role": "editor"}', "Chiara Bianchi", "person"),
    ("Er ist geboren am 21.09.1969 in Bremen.", "21.09.1969", "date_of_birth"),
    ("El titular nació el 9 de abril de 1975.", "9 de abril de 1975", "date_of_birth"),
    # Names without a cue word, found by their given name (the gazetteer), in any language.
    ("Please loop in Oksana Kovalenko before Friday.", "Oksana Kovalenko", "person"),
    ("customer,card\nKenichi Yamamoto,expired", "Kenichi Yamamoto", "person"),
    ("Het contract staat op naam van Pieter van Dijk.", "Pieter van Dijk", "person"),
    ("Min-jun Choi joined the call late.", "Min-jun Choi", "person"),
    # Ids, plates, birth dates in records, tokens and addresses found by their format.
    ("The CPF on file, 529.982.247-25, belongs to the account holder.", "529.982.247-25", "national_id"),
    ("Le passeport n° 14AB23567 expire en 2031.", "14AB23567", "national_id"),
    ("El DNI de la titular Ana Ruiz es 48291734K, según el contrato.", "48291734K", "national_id"),
    ("The car with registration LM21 XPQ was seen leaving.", "LM21 XPQ", "national_id"),
    ("INSERT INTO staff (name, birth_date) VALUES ('x', '1979-11-02');", "1979-11-02", "date_of_birth"),
    ("curl api.telegram.org/bot1234567890:AAHk3Pq9Zr7Lm2Nx5Vb8Ct1Wy4Ud6Fs0GeQ/getMe",
     "1234567890:AAHk3Pq9Zr7Lm2Nx5Vb8Ct1Wy4Ud6Fs0GeQ", "telegram_bot_token"),
    ("aws_secret = 'Kq7vR2pXw9/Lm4TzB8nC1yHs6Jd3Fg5Ua0Ei+Wo7'", "Kq7vR2pXw9/Lm4TzB8nC1yHs6Jd3Fg5Ua0Ei+Wo7", None),
    ("Ci vediamo in Via Roma 12, 00184 Roma alle nove.", "Via Roma 12, 00184 Roma", "street_address"),
    ("Envíelo a Calle Mayor 5, 2º A, 28013 Madrid.", "Calle Mayor 5, 2º A, 28013 Madrid", "street_address"),
    ("Her flat is at 14 Rue Oberkampf, Paris 75011.", "14 Rue Oberkampf, Paris 75011", "street_address"),
    ("Sie wohnt in der Kastanienallee 8, 10435 Berlin.", "Kastanienallee 8, 10435 Berlin", "street_address"),
    ("adres Oude Gracht 120A, 3511 AX Utrecht", "Oude Gracht 120A, 3511 AX Utrecht", "street_address"),
    # Phone numbers outside North America, with or without a cue.
    ("Reach her on +44 7911 123456 after six.", "+44 7911 123456", "phone"),
    ("Rufen Sie 030 12345678 an.", "030 12345678", "phone"),
    ("Appelez le 06 12 34 56 78 demain.", "06 12 34 56 78", "phone"),
    ("telemóvel 912 345 678, disponível", "912 345 678", "phone"),
    ("Fale comigo no (21) 99876-5432.", "(21) 99876-5432", "phone"),
    # Bank and card details, credentials in URLs and command lines, handles, names after a label.
    ("Overmaken naar NL91 ABNA 0417 1643 00 graag.", "NL91 ABNA 0417 1643 00", "iban"),
    ("Card ending 4242, CVV 731, expires 08/27.", "731", "card_security_code"),
    ("git clone https://jdoe-ci:s3cretT0ken@git.example.org/app.git", "jdoe-ci", "uri_credentials"),
    ("docker login -u ci -p 'Xy7#pQ2!kL' registry.example.org", "Xy7#pQ2!kL", "cli_credentials"),
    ("Tag her at @ana.bakes for the launch.", "ana.bakes", "handle"),
    ("Full name: Ngozi Okonkwo-Bello\nRole: tenant", "Ngozi Okonkwo-Bello", "person"),
    ("Accepted publickey for rkumar from 10.0.0.8 port 2222", "rkumar", "username"),
    ('{"tc_kimlik_no": "10000000146", "city": "Izmir"}', "10000000146", "national_id"),
    ("La CURP sería GODE561231HDFRRN09 según RENAPO.", "GODE561231HDFRRN09", "national_id"),
    ("Codice fiscale del cliente: RSSMRA85T10A562S.", "RSSMRA85T10A562S", "national_id"),
    ("titulaire du permis de conduire n° 120475300981", "120475300981", "national_id"),
    ("The lockbox code for the spare key is 4826.", "4826", "access_code"),
    ("Dostawa na ul. Piękna 12/3, 00-549 Warszawa.", "ul. Piękna 12/3, 00-549 Warszawa", "street_address"),
    ("command: redis-server --requirepass Zx8!kP2qLm", "Zx8!kP2qLm", "cli_credentials"),
    ("Il suo username giulia.rossi85 è attivo.", "giulia.rossi85", "username"),
    ("His login on the jump host is `dmorales`.", "dmorales", "username"),
    ("Met vriendelijke groet,\n\nSanne Bakker", "Sanne Bakker", "person"),
    ("git remote set-url origin git@github.com:jlee-ops/infra.git", "jlee-ops", "handle"),
    ('REDIS_URL: "redis://:Pq7vX2mZk@10.0.0.9:6379/0"', "Pq7vX2mZk", "uri_credentials"),
    ("We'll send an SMS at 8123 4567 when it ships.", "8123 4567", "phone"),
    ('"payment": {"account_number": "55779911"}', "55779911", "national_id"),
    ('{"sub": "acct_99812", "exp": 1709251200}', "acct_99812", "username"),
    ("Host staging\n    HostName 10.1.2.3\n    User deploy_rk\n", "deploy_rk", "username"),
    ('"POST /wp-login.php?log=mtorres HTTP/1.1" 200', "mtorres", "username"),
    ("Please bring your NRIC (T0123456G) to the counter.", "T0123456G", "national_id"),
    ("HKID: Y654321(7) on the form", "Y654321(7)", "national_id"),
    ("numéro de registre national 90.02.01-997.04, merci", "90.02.01-997.04", "national_id"),
    ("CUIT 20-12345678-6 del titular", "20-12345678-6", "national_id"),
    ("Sozialversicherungsnummer: 12 150480 M 017", "12 150480 M 017", "national_id"),
    ("Nummerplaat: 1-ABC-234\nGsm: 0470 12 34 56", "1-ABC-234", "national_id"),
    ("Adres: Veldstraat 12, 9000 Gent\nTelefoon: 09 234 56 78", "Veldstraat 12, 9000 Gent", "street_address"),
    ("Nato a Torino il 14/02/1979, residente a Moncalieri.", "14/02/1979", "date_of_birth"),
    ("- Data de nascimento: 30/01/1988", "30/01/1988", "date_of_birth"),
    # A value found once is masked wherever it appears again, cue or not.
    ("Failed password for okamau from 10.0.0.8\nThe login of `okamau` then succeeded.", "okamau", "username"),
    # A form's fields, named by their labels.
    ("1. Surname: OKONJO\n3. First name(s): ADAEZE CHIOMA\n", "ADAEZE CHIOMA", "person"),
    ("- **Candidate :** Mariam Sow\n- **Téléphone :** 06 11 22 33 44", "Mariam Sow", "person"),
    ("- Nom, prénom : Favre Noémie\n- N° AVS : 756.1234.5678.97", "Favre Noémie", "person"),
    ("Birth certificate no.: 5520931\nGrade: 4", "5520931", "national_id"),
    ("| **Illinois DL:** R123-4567-8901 |", "R123-4567-8901", "national_id"),
    # Shapes, cues and formats of the third round.
    ("N° AVS : 756.1234.5678.97 (caisse de compensation)", "756.1234.5678.97", "national_id"),
    ("Adjunto los antecedentes, RUT 12.345.678-5, para la corredora.", "12.345.678-5", "national_id"),
    ("P. IVA 01234567890 — sede legale a Torino", "01234567890", "national_id"),
    ("Vehicle: 2018 Polo, reg. KD 19 XPT, parked outside", "KD 19 XPT", "national_id"),
    ('{"card": "4111 1111 1111 1111", "cvv": "482"}', "482", "card_security_code"),
    ("domiciliada en Jr. Puno 214, Arequipa 04001", "Jr. Puno 214, Arequipa 04001", "street_address"),
    ('db_password         = "Hq7#vR2m!Lp9"', "Hq7#vR2m!Lp9", "secret_assignment"),
    ("| `SMTP_PASSWORD` | `nB5!rT8kLq2` |", "nB5!rT8kLq2", "secret_assignment"),
    ("[deploy] Connecting to deploy_ops@10.20.30.40 ...", "deploy_ops", "username"),
    ('"GET /account?email=ana.lima%40gmail.com HTTP/1.1"', "ana.lima%40gmail.com", "email"),
    ('  REGISTRY_USER: "ci-deploy-kim"', "ci-deploy-kim", "username"),
]


@pytest.mark.parametrize(("text", "value", "kind"), CONTEXTUAL, ids=[f"{c[2]}{i}" for i, c in enumerate(CONTEXTUAL)])
def test_contextual_personal_data_is_masked_and_reported(text: str, value: str, kind: str) -> None:
    assert value not in mask_sensitive(text)
    found = [k for _, _, k in find_pii(text)]
    assert kind in found if kind else found, found


def test_random_looking_tokens_are_masked_but_not_findings() -> None:
    text = "the webhook secret is stored as Zq8Lr2Vb7Nx4Kp1Wm6Ty3Hs9Dj5Fg0 in the vault"
    assert "Zq8Lr2Vb7Nx4Kp1Wm6Ty3Hs9Dj5Fg0" not in mask_sensitive(text)
    assert [k for _, _, k in find_pii(text)] == ["opaque_token"]
    [score] = asyncio.run(create_check("pii.regex").score_batch([ScoringItem("r", output=text)]))
    assert not score.evidence


@pytest.mark.parametrize("text", [
    "Choose a password that is long and unique.",  # no value after the cue
    "Upgrade to version 2.14.3 of the package with pip install pkg==2.14.3.",
    "See https://docs.python.org/3/library/asyncio-task.html for the details.",
    "The meeting is on 12 March 1980 in the old town hall.",  # a date, but not a birth date
    "Call the function get_user_account_settings_for_tenant() first.",
    "Run pip install -U requests to upgrade it.",  # -U here is pip's upgrade flag, not a user
    "Thanks,\nThe Support Team",
    "The password policy requires twelve characters and a symbol.",
    "Open your account settings from the menu.",
    "Registration is open until 2024 for all members.",  # no plate after the word
    "The Roman Empire fell in 476; May Day is on 1 May.",  # capitalised words, not names
    "Join us via Zoom or in the Victoria Station office.",
    "The meeting moved to 03.11.2024 at 10:30.",  # a date, not a trunk-0 phone number
    "Run docker run -p 8080:80 nginx to try it.",  # a port mapping, not a password
    "Birth rates rose in 2024-03 and again on 2023-05-01.",  # dates outside birth years
    "The placa de vídeo RTX 3060 runs it at 60 fps.",  # "placa" is a plate only for a vehicle
    "Registration for the fin 2024 cohort is open.",
    "User: Hello\nBot: Hello\nUser: Great, repeat after me",  # a chat transcript, not usernames
    "Remember that the user is never the enemy.",
    "Order no.: 4471-2209\nStep 2: wait 30 minutes\nStatus: shipped",  # fields that hold no personal data
])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert mask_sensitive(text) == text, find_pii(text)
