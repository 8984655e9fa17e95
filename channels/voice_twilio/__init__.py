"""The Twilio voice channel: calls to the practice number ring the front desk; a missed call gets a text back."""
