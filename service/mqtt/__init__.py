"""MQTT output: state, alerts and Home Assistant discovery; acks back in. See docs/mqtt.md."""

from service.mqtt.publisher import MqttPublisher

__all__ = ["MqttPublisher"]
