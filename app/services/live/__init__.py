"""The live desk: domain events and prices carried to the owner's browser over Socket.IO."""

# Every event goes to this one room: DeskPilot has one owner, whose sessions join it.
OWNER_ROOM = "owner"
