package edge

import (
	"io"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/avapmesh/avap/bus"
)

// handleFile serves POST /api/v1/execute/file: a multipart upload whose
// field "file" holds the script; every other field is a form parameter
// (addParam source 4), in name order; the query string still applies.
func (x *executeAPI) handleFile(c *fiber.Ctx) error {
	if !strings.HasPrefix(strings.ToLower(string(c.Request().Header.ContentType())), fiber.MIMEMultipartForm) {
		return x.sendError(c, nil, bus.CodeUnsupportedMedia, "content type must be multipart/form-data")
	}
	form, err := c.MultipartForm()
	if err != nil {
		return x.sendError(c, nil, bus.CodeBadRequest, "bad multipart body: "+err.Error())
	}
	files := form.File["file"]
	if len(files) != 1 {
		return x.sendError(c, nil, bus.CodeBadRequest, `multipart body needs exactly one "file" field`)
	}
	f, err := files[0].Open()
	if err != nil {
		return x.sendError(c, nil, bus.CodeBadRequest, "read file: "+err.Error())
	}
	src, err := io.ReadAll(io.LimitReader(f, int64(x.s.opts.BodyLimit)+1))
	_ = f.Close()
	if err != nil {
		return x.sendError(c, nil, bus.CodeBadRequest, "read file: "+err.Error())
	}
	if len(src) == 0 {
		return x.sendError(c, nil, bus.CodeBadRequest, "the uploaded file is empty")
	}
	st := x.getState()
	defer x.putState(st)
	x.readQuery(c, st)
	names := make([]string, 0, len(form.Value))
	for k := range form.Value {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range form.Value[k] {
			st.form = append(st.form, bus.Param{Name: k, Value: v})
		}
	}
	st.req.Form = st.form
	st.req.Script = b2s(src)
	st.req.Name = files[0].Filename
	st.req.ID = RequestID(c)
	st.req.Lane = bus.LaneInteractive
	x.exec(c.UserContext(), st)
	return x.send(c, st)
}
