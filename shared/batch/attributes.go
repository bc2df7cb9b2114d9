package batch

// Message attributes the follower sets on every queue message that carries an
// envelope, and ingest reads (the batch id for logs and partial failures).
const (
	AttrBatchID = "nectar_batch_id"
	AttrKind    = "nectar_kind"
	AttrNetwork = "nectar_network"
)
