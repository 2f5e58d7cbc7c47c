"""The paper venue: DeskPilot's own matching engine as a broker, its state and its price feed."""
