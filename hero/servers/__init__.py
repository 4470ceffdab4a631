"""hero's transports: web (HTTP + WebSocket) and socket (TCP lines)."""
