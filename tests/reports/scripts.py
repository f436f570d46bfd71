# ruff: noqa: RUF001 (Greek, Cyrillic and Turkish letters are the point)
"""One sentence in each language Magistral reasons in, for the report's and the web UI's no-tofu tests.

Written by people for these tests (the same notice clause in each language), not model output. The
languages are those of the Magistral Small model card (English, French, German, Greek, Hindi, Indonesian,
Italian, Japanese, Korean, Nepali, Polish, Portuguese, Romanian, Russian, Serbian, Spanish, Swedish, Turkish,
Ukrainian, Vietnamese, Arabic, Bengali, Chinese, Farsi) plus Hebrew and Thai. ``family`` is the font
family the report's and the site's CSS name for the script: the tests check that it is the one used.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    lang: str  # BCP 47 tag
    name: str  # the language's English name
    script: str
    family: str  # the family the stack names for this script
    text: str
    rtl: bool = False


LATIN = "Noto Sans"
SAMPLES = (
    Sample("en", "English", "Latin", LATIN, "The tenant must give written notice three months before the lease ends."),
    Sample(
        "fr", "French", "Latin", LATIN, "Le locataire doit donner un préavis écrit trois mois avant la fin du bail."
    ),
    Sample(
        "de", "German", "Latin", LATIN, "Der Mieter muss spätestens drei Monate vor Ablauf des Mietvertrags kündigen."
    ),
    Sample(
        "es", "Spanish", "Latin", LATIN, "¿Debe el inquilino avisar por escrito tres meses antes del fin del contrato?"
    ),
    Sample(
        "it", "Italian", "Latin", LATIN, "L'inquilino deve dare disdetta per iscritto tre mesi prima della scadenza."
    ),
    Sample("pt", "Portuguese", "Latin", LATIN, "O inquilino deve avisar por escrito com três meses de antecedência."),
    Sample("pl", "Polish", "Latin", LATIN, "Najemca musi złożyć pisemne wypowiedzenie na trzy miesiące przed końcem."),
    Sample("ro", "Romanian", "Latin", LATIN, "Chiriașul trebuie să anunțe în scris cu trei luni înainte de încheiere."),
    Sample("sv", "Swedish", "Latin", LATIN, "Hyresgästen måste säga upp avtalet skriftligen tre månader i förväg."),
    Sample(
        "tr", "Turkish", "Latin", LATIN, "Kiracı, sözleşmenin bitiminden üç ay önce yazılı bildirimde bulunmalıdır."
    ),
    Sample(
        "vi",
        "Vietnamese",
        "Latin",
        LATIN,
        "Người thuê phải thông báo bằng văn bản ba tháng trước khi hợp đồng kết thúc.",
    ),
    Sample("id", "Indonesian", "Latin", LATIN, "Penyewa wajib memberi pemberitahuan tertulis tiga bulan sebelumnya."),
    Sample("el", "Greek", "Greek", LATIN, "Ο μισθωτής πρέπει να ειδοποιήσει γραπτώς τρεις μήνες πριν από τη λήξη."),
    Sample("ru", "Russian", "Cyrillic", LATIN, "Арендатор должен письменно уведомить арендодателя за три месяца."),
    Sample("uk", "Ukrainian", "Cyrillic", LATIN, "Орендар має письмово повідомити орендодавця за три місяці."),
    Sample("sr", "Serbian", "Cyrillic", LATIN, "Закупац мора писмено да обавести закуподавца три месеца унапред."),
    Sample(
        "ar",
        "Arabic",
        "Arabic",
        "Noto Naskh Arabic",
        "يجب على المستأجر تقديم إشعار كتابي قبل ثلاثة أشهر من انتهاء عقد الإيجار (البند 12).",
        rtl=True,
    ),
    Sample(
        "fa",
        "Persian",
        "Arabic",
        "Noto Naskh Arabic",
        "مستأجر باید سه ماه پیش از پایان اجاره‌نامه به‌صورت کتبی اطلاع دهد.",
        rtl=True,
    ),
    Sample(
        "he", "Hebrew", "Hebrew", "Noto Sans Hebrew", "על השוכר למסור הודעה בכתב שלושה חודשים לפני תום החוזה.", rtl=True
    ),
    Sample(
        "hi",
        "Hindi",
        "Devanagari",
        "Noto Sans Devanagari",
        "किरायेदार को पट्टा समाप्त होने से तीन महीने पहले लिखित सूचना देनी होगी।",
    ),
    Sample(
        "ne",
        "Nepali",
        "Devanagari",
        "Noto Sans Devanagari",
        "भाडावालले सम्झौता सकिनुभन्दा तीन महिना अगाडि लिखित सूचना दिनुपर्छ।",
    ),
    Sample("bn", "Bengali", "Bengali", "Noto Sans Bengali", "ভাড়াটিয়াকে চুক্তি শেষ হওয়ার তিন মাস আগে লিখিত নোটিশ দিতে হবে।"),
    Sample("th", "Thai", "Thai", "Noto Sans Thai", "ผู้เช่าต้องแจ้งเป็นลายลักษณ์อักษรล่วงหน้าสามเดือนก่อนสิ้นสุดสัญญาเช่า"),
    Sample("zh", "Chinese (Simplified)", "Han", "Noto Sans CJK SC", "租户必须在租约期满前三个月以书面形式通知房东。"),
    Sample(
        "ja",
        "Japanese",
        "Han and kana",
        "Noto Sans CJK JP",
        "借主は契約終了の三か月前までに書面で通知しなければならない。",
    ),
    Sample("ko", "Korean", "Hangul", "Noto Sans CJK KR", "임차인은 계약이 끝나기 석 달 전에 서면으로 통지해야 한다."),
    # Not a language: emoji, which people put in questions and documents (a tone modifier and a flag included).
    Sample("und-Zsye", "Emoji", "Emoji", "Noto Color Emoji", "👍🏽📄📅🇪🇺🙂✅"),
)

# A line that mixes directions, as a trace quoting a clause does: it must stay legible in both.
MIXED = "Clause 12 («البند 12») reads: يجب إشعار كتابي — written notice is required."
