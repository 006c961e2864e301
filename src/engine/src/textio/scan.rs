//! Number scanning with C's `strtof`/`strtol` (what float4in, int2vectorin and pgvector use,
//! under Postgres' LC_NUMERIC=C) over a private NUL-terminated copy of the input.
use super::error::TextError;

/// The input plus a NUL, so the C scanners stop at its end; `pos` is the cursor.
pub struct Scanner {
    buf: Vec<u8>,
    pub pos: usize,
}

impl Scanner {
    pub fn new(text: &[u8]) -> Scanner {
        // An embedded NUL ends the text, as it would for a cstring.
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let mut buf = Vec::with_capacity(end + 1);
        buf.extend_from_slice(&text[..end]);
        buf.push(0);
        Scanner { buf, pos: 0 }
    }

    /// The text (without the NUL).
    pub fn text(&self) -> &[u8] {
        &self.buf[..self.buf.len() - 1]
    }

    /// Current byte (0 at the end).
    pub fn peek(&self) -> u8 {
        self.buf[self.pos]
    }

    /// Postgres' scanner whitespace: space, \t, \n, \r, \v, \f.
    pub fn skip_space(&mut self) {
        while matches!(self.peek(), b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            self.pos += 1;
        }
    }

    /// `strtof` at the cursor: (value, bytes consumed, errno == ERANGE). Consumes nothing on
    /// failure (0 bytes).
    pub fn strtof(&mut self) -> (f32, usize, bool) {
        let p = self.buf[self.pos..].as_ptr() as *const libc::c_char;
        let mut end = p as *mut libc::c_char;
        // SAFETY: `p` points into `buf`, which ends with a NUL that strtof stops at; errno is
        // thread-local.
        let (v, used, erange) = unsafe {
            *libc::__errno_location() = 0;
            let v = libc::strtof(p, &mut end);
            (v, end.offset_from(p) as usize, *libc::__errno_location() == libc::ERANGE)
        };
        self.pos += used;
        (v, used, erange)
    }

    /// `strtol(…, 10)` at the cursor: (value, bytes consumed). Saturates at the i64 range.
    pub fn strtol(&mut self) -> (i64, usize) {
        let p = self.buf[self.pos..].as_ptr() as *const libc::c_char;
        let mut end = p as *mut libc::c_char;
        // SAFETY: as in `strtof`.
        let (v, used) = unsafe {
            let v = libc::strtol(p, &mut end, 10);
            (v as i64, end.offset_from(p) as usize)
        };
        self.pos += used;
        (v, used)
    }

    /// The `len` bytes before the cursor, as text (for "… is out of range" messages).
    pub fn last(&self, len: usize) -> String {
        String::from_utf8_lossy(&self.buf[self.pos - len..self.pos]).into_owned()
    }
}

/// Big-endian reader over a binary message with pq_getmsgint's "insufficient data" error.
pub struct Reader<'a> {
    msg: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(msg: &'a [u8]) -> Reader<'a> {
        Reader { msg, pos: 0 }
    }

    pub fn take<const N: usize>(&mut self) -> Result<[u8; N], TextError> {
        let bytes = self.msg.get(self.pos..self.pos + N).ok_or_else(TextError::short_message)?;
        self.pos += N;
        Ok(bytes.try_into().unwrap())
    }

    pub fn u16(&mut self) -> Result<u16, TextError> {
        Ok(u16::from_be_bytes(self.take()?))
    }

    pub fn i32(&mut self) -> Result<i32, TextError> {
        Ok(i32::from_be_bytes(self.take()?))
    }

    pub fn f32(&mut self) -> Result<f32, TextError> {
        Ok(f32::from_be_bytes(self.take()?))
    }
}
