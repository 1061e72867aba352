package transform

// Row is one row of the participant_timelogs table (schema v1): one
// join/leave interval of one participant of one session. Times are UTC
// microseconds since the Unix epoch; nil pointers are SQL NULLs.
type Row struct {
	SessionID       string
	RoomID          *string
	CustomRoomID    *string
	ParticipantID   string
	ParticipantName *string
	TimelogIndex    int32
	StartTime       int64
	EndTime         *int64
	DurationMS      *int64
	ExtractedAt     int64
	RunID           string
}
