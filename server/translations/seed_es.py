"""Seed the Spanish catalogue with the words people meet first (navigation, sign-in, crisis help, offline).

Run by `make i18n` after extraction; translators continue in server/translations/es/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).with_name("es") / "LC_MESSAGES" / "messages.po"

SPANISH = {
    "Today": "Hoy",
    "Log": "Registro",
    "Skills": "Habilidades",
    "Progress": "Progreso",
    "More": "Más",
    "Main": "Principal",
    "Get help now": "Ayuda ahora",
    "Skip to main content": "Ir al contenido principal",
    "Sign in": "Iniciar sesión",
    "Sign in to Steady": "Iniciar sesión en Steady",
    "Sign out": "Cerrar sesión",
    "Email": "Correo electrónico",
    "Password": "Contraseña",
    "Wrong email or password.": "Correo o contraseña incorrectos.",
    "Account": "Cuenta",
    "Your account": "Tu cuenta",
    "Language": "Idioma",
    "Save": "Guardar",
    "Saved.": "Guardado.",
    "You're offline": "Estás sin conexión",
    "Call 988": "Llamar al 988",
    "Crisis help": "Ayuda en crisis",
    "Saved on this phone": "Guardado en este teléfono",
    "Saved on this phone. It will be sent when you're back online.":
        "Guardado en este teléfono. Se enviará cuando vuelvas a tener conexión.",
    "Back to Today": "Volver a Hoy",
    "Please fill this in.": "Por favor, completa este campo.",
    "Please check the highlighted fields. Everything you typed is still here.":
        "Revisa los campos marcados. Todo lo que escribiste sigue aquí.",
    "One day at a time. Here is your day at a glance.": "Un día a la vez. Aquí tienes tu día de un vistazo.",
    "Hi, %(name)s": "Hola, %(name)s",
    "You're signed out. Take care.": "Cerraste sesión. Cuídate.",
    "Use Steady offline on this phone": "Usar Steady sin conexión en este teléfono",
    "If you need help right now, call or text 988, or call 911 in an emergency.":
        "Si necesitas ayuda ahora mismo, llama o escribe al 988 (marca 2 para español), "
        "o llama al 911 en una emergencia.",
    "Updates": "Novedades",
    "Patients": "Pacientes",
    "Invite": "Invitar",
}


def main() -> None:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="es")
    for message in catalogue:
        if message.id and isinstance(message.id, str) and message.id in SPANISH and not message.string:
            message.string = SPANISH[message.id]
    with CATALOGUE.open("wb") as handle:
        write_po(handle, catalogue, width=120)


if __name__ == "__main__":
    main()
