package api

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orcahq/orca/client"
	"github.com/orcahq/orca/internal/blob"
	"github.com/orcahq/orca/internal/queue"
)

// decodeBody reads a JSON request body bounded by MaxBodyBytes; an empty body leaves v as is.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("InvalidJSON", "the request body is not the expected JSON: "+err.Error())
	}
	return nil
}

// seconds reads a duration given in seconds (a number, fractions allowed) from the query.
func seconds(r *http.Request, name string, def, maxVal time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > maxVal.Seconds() {
		return 0, badRequest("InvalidArgument", name+" must be a number of seconds from 0 to "+strconv.Itoa(int(maxVal.Seconds())))
	}
	return time.Duration(f * float64(time.Second)), nil
}

func parseOptionalDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, badRequest("InvalidArgument", field+" "+strconv.Quote(v)+" is not a duration such as \"30s\"")
	}
	return d, nil
}

func toWireMessage(m *queue.Message) *client.QueueMessage {
	return &client.QueueMessage{ID: m.ID, PopReceipt: m.PopReceipt, Body: string(m.Body), DequeueCount: m.DequeueCount,
		InsertedTime: m.InsertedAt, ExpirationTime: m.ExpiresAt, NextVisibleTime: m.NextVisible, LastError: m.LastError}
}

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	var req client.EnqueueRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Messages) == 0 || len(req.Messages) > 32 {
		s.writeError(w, r, badRequest("InvalidArgument", "send 1 to 32 messages"))
		return
	}
	out := client.QueueMessages{Messages: []*client.QueueMessage{}}
	for i, m := range req.Messages {
		delay, err := parseOptionalDuration("messages["+strconv.Itoa(i)+"].visibilityDelay", m.VisibilityDelay)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ttl, err := parseOptionalDuration("messages["+strconv.Itoa(i)+"].ttl", m.TTL)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		msg, err := s.cfg.Queues.Enqueue(r.Context(), r.PathValue("queue"), []byte(m.Body),
			queue.EnqueueOptions{VisibilityDelay: delay, TTL: ttl})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Messages = append(out.Messages, toWireMessage(msg))
	}
	writeJSON(w, http.StatusCreated, out)
}

func (s *Server) dequeue(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n := 1
	if v := q.Get("numofmessages"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > queue.MaxDequeueBatch {
			s.writeError(w, r, badRequest("InvalidArgument", "numofmessages must be 1 to 32"))
			return
		}
	}
	queueName := r.PathValue("queue")
	if peek, _ := strconv.ParseBool(q.Get("peekonly")); peek {
		msgs, err := s.cfg.Queues.Peek(r.Context(), queueName, n)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeMessages(w, msgs)
		return
	}
	visibility, err := seconds(r, "visibilitytimeout", queue.DefaultVisibilityTimeout, queue.MaxVisibilityTimeout)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	wait, err := seconds(r, "wait", 0, s.cfg.MaxPollWait)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if visibility < time.Second {
		s.writeError(w, r, badRequest("InvalidArgument", "visibilitytimeout must be at least 1 second"))
		return
	}
	if id := r.Header.Get(client.WorkerIDHeader); id != "" && s.cfg.WorkerPolled != nil {
		s.cfg.WorkerPolled(id)
	}
	msgs, err := s.cfg.Queues.Dequeue(r.Context(), queueName, queue.DequeueOptions{Max: n, VisibilityTimeout: visibility, Wait: wait})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeMessages(w, msgs)
}

func (s *Server) writeMessages(w http.ResponseWriter, msgs []*queue.Message) {
	out := client.QueueMessages{Messages: make([]*client.QueueMessage, len(msgs))}
	for i, m := range msgs {
		out.Messages[i] = toWireMessage(m)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteMessage(w http.ResponseWriter, r *http.Request) {
	pop := r.URL.Query().Get("popreceipt")
	if pop == "" {
		s.writeError(w, r, badRequest("InvalidArgument", "popreceipt is required"))
		return
	}
	if err := s.cfg.Queues.Delete(r.Context(), r.PathValue("queue"), r.PathValue("id"), pop); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) updateMessage(w http.ResponseWriter, r *http.Request) {
	pop := r.URL.Query().Get("popreceipt")
	if pop == "" {
		s.writeError(w, r, badRequest("InvalidArgument", "popreceipt is required"))
		return
	}
	visibility, err := seconds(r, "visibilitytimeout", 0, queue.MaxVisibilityTimeout)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req client.UpdateRequest
	if err := s.decodeBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.cfg.Queues.Update(r.Context(), r.PathValue("queue"), r.PathValue("id"), pop,
		queue.UpdateOptions{VisibilityTimeout: visibility, LastError: req.LastError})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("x-ms-popreceipt", m.PopReceipt)
	writeJSON(w, http.StatusOK, client.UpdateResult{PopReceipt: m.PopReceipt, NextVisibleTime: m.NextVisible})
}

func toWireStats(st queue.Stats) client.QueueStats {
	return client.QueueStats{Queue: st.Queue, Visible: st.Visible, InFlight: st.InFlight, ApproximateMessagesCount: st.Length()}
}

func (s *Server) queueStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.cfg.Queues.Stats(r.Context(), r.PathValue("queue"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toWireStats(st))
}

func (s *Server) listQueues(w http.ResponseWriter, r *http.Request) {
	all, err := s.cfg.Queues.List(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := client.QueueList{Queues: make([]client.QueueStats, len(all))}
	for i, st := range all {
		out.Queues[i] = toWireStats(st)
	}
	writeJSON(w, http.StatusOK, out)
}

func toWireBlob(i *blob.Info) client.BlobInfo {
	return client.BlobInfo{Container: i.Container, Name: i.Name, Size: i.Size, ContentType: i.ContentType,
		ETag: i.ETag, CreatedTime: i.CreatedAt}
}

func (s *Server) putBlob(w http.ResponseWriter, r *http.Request) {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBlobBytes)
	info, err := s.cfg.Blobs.Put(r.Context(), r.PathValue("container"), r.PathValue("name"), body, r.Header.Get("Content-Type"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", info.ETag)
	writeJSON(w, http.StatusCreated, toWireBlob(info))
}

func (s *Server) getBlob(w http.ResponseWriter, r *http.Request) {
	rc, info, err := s.cfg.Blobs.Get(r.Context(), r.PathValue("container"), r.PathValue("name"))
	if err != nil {
		if r.Method == http.MethodHead {
			w.WriteHeader(classify(err).status)
			return
		}
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", info.ContentType)
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	h.Set("ETag", info.ETag)
	h.Set("Last-Modified", info.CreatedAt.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, rc)
	}
}

func (s *Server) deleteBlob(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Blobs.Delete(r.Context(), r.PathValue("container"), r.PathValue("name")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listBlobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("maxresults"); v != "" {
		var err error
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 5000 {
			s.writeError(w, r, badRequest("InvalidArgument", "maxresults must be 1 to 5000"))
			return
		}
	}
	page, err := s.cfg.Blobs.List(r.Context(), r.PathValue("container"),
		blob.ListOptions{Prefix: q.Get("prefix"), Marker: q.Get("marker"), Limit: limit})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := client.BlobList{Blobs: make([]client.BlobInfo, len(page.Blobs)), NextMarker: page.Next}
	for i, b := range page.Blobs {
		out.Blobs[i] = toWireBlob(b)
	}
	writeJSON(w, http.StatusOK, out)
}
