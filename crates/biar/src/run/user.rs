//! Running as the owner of `workdir/`: what the container writes there belongs to that host user
//! afterwards, whatever its uid, without an image per uid. The container runs as `uid:gid`, and
//! before it starts the engine extracts into it (its own writable layer, gone with it) an
//! `/etc/passwd` and `/etc/group` naming that uid as the image's user, and the user's home owned
//! by it: `id -un`, `$HOME`, `~` and the shell prompt then work as in the image.

use crate::image::tar;

/// The user a run is as, when it is not the image's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    /// The name the uid gets (the image's user, `image.user`).
    pub user: String,
    /// Its home directory (the image's user's home).
    pub home: String,
}

impl RunAs {
    /// Whom to run as for a workdir owned by `owner` (uid, gid), in an image whose user is
    /// `user` with `image_ids` and `home`: `None` when the image's own ids already match, or
    /// when the owner is root (biar-tui never turns a run into a root shell by itself; the
    /// image's user then works in a root-owned folder only as far as its modes allow). A
    /// folder whose group is root keeps the image's group.
    pub fn for_owner(
        owner: (u32, u32),
        user: &str,
        image_ids: (u32, u32),
        home: &str,
    ) -> Option<RunAs> {
        let (uid, gid) = owner;
        if uid == 0 {
            return None;
        }
        let gid = if gid == 0 { image_ids.1 } else { gid };
        ((uid, gid) != image_ids).then(|| RunAs {
            uid,
            gid,
            user: user.to_string(),
            home: home.to_string(),
        })
    }

    /// The container's `User`.
    pub fn user_spec(&self) -> String {
        format!("{}:{}", self.uid, self.gid)
    }

    /// The files supplied for the run, as a tar to extract at `/`: `etc/passwd`, `etc/group`
    /// (root's, 0644) and the home directory owned by the user (0755). A few hundred bytes.
    pub fn files_tar(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4096);
        let passwd = crate::profile::passwd(&self.user, self.uid, self.gid, &self.home);
        let group = crate::profile::group(&self.user, self.gid);
        tar::file(&mut out, b"etc/passwd", passwd.as_bytes(), 0o644);
        tar::file(&mut out, b"etc/group", group.as_bytes(), 0o644);
        let home = format!("{}/", self.home.trim_matches('/'));
        tar::header_owned(
            &mut out,
            home.as_bytes(),
            tar::Kind::Dir,
            0o755,
            (self.uid, self.gid),
        );
        tar::end(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_user_or_root_needs_nothing_else() {
        assert_eq!(
            RunAs::for_owner((1000, 1000), "user", (1000, 1000), "/home/user"),
            None
        );
        assert_eq!(
            RunAs::for_owner((0, 0), "user", (1000, 1000), "/home/user"),
            None
        );
        // A folder of uid 1000 whose group is root: the image's ids.
        assert_eq!(
            RunAs::for_owner((1000, 0), "user", (1000, 1000), "/home/user"),
            None
        );
        let r = RunAs::for_owner((4242, 4343), "user", (1000, 1000), "/home/user").unwrap();
        assert_eq!(r.user_spec(), "4242:4343");
        assert_eq!(
            RunAs::for_owner((4242, 0), "user", (1000, 1000), "/home/user")
                .unwrap()
                .user_spec(),
            "4242:1000"
        );
    }

    #[test]
    fn the_files_name_the_uid_as_the_user_and_give_it_the_home() {
        let r = RunAs::for_owner((4242, 4343), "dev", (1000, 1000), "/home/dev").unwrap();
        let bytes = r.files_tar();
        let mut archive = ::tar::Archive::new(std::io::Cursor::new(bytes));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut e = entry.unwrap();
            let h = e.header().clone();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut e, &mut text).unwrap();
            seen.push((
                e.path().unwrap().display().to_string(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.mode().unwrap(),
                text,
            ));
        }
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].0, "etc/passwd");
        assert!(
            seen[0].4.contains("dev:x:4242:4343:dev:/home/dev:/bin/sh"),
            "{seen:?}"
        );
        assert_eq!((seen[0].1, seen[0].2, seen[0].3 & 0o777), (0, 0, 0o644));
        assert_eq!(seen[1].0, "etc/group");
        assert!(seen[1].4.contains("dev:x:4343:"), "{seen:?}");
        assert_eq!(seen[2].0, "home/dev/");
        assert_eq!(
            (seen[2].1, seen[2].2, seen[2].3 & 0o777),
            (4242, 4343, 0o755)
        );
    }
}
