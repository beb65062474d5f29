"""chat-engagement: Rocket.Chat Engagement Dashboard numbers from session exports."""

__version__ = "0.1.0"
