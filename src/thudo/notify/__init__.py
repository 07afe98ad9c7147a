"""Messages to people: in-app, SMS (pluggable sender), e-mail, with delivery status."""
