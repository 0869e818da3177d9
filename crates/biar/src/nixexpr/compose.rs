//! Language-aware composition, as Nix text for the generated build expression: one interpreter
//! per language, whatever way the configuration files name their packages.
//!
//! In nixpkgs a language's packages are importable only by an interpreter made with them
//! (`python312.withPackages (ps: [ … ])`, `rWrapper.override { packages = [ … ]; }`): a
//! `python3Packages.requests` beside `python3` in a `buildEnv` is not importable, and two
//! `withPackages` environments collide on `bin/python3`. So the expression, after calling every
//! file, partitions the package list by the attributes nixpkgs marks packages with, never by
//! attribute names (so `with`, `let`, `workdir/local.nix` are all covered):
//!
//! - Python: a module has `pythonModule` (its interpreter); an environment of `withPackages`
//!   has `python` (the interpreter it wraps) besides the interpreter's own passthru
//!   (`withPackages`, `pythonVersion`); an interpreter has `withPackages` and `pythonVersion`.
//!   The modules an environment was made with are read through its own `.override` (nixpkgs'
//!   wrapper is overridable, and its passthru is the interpreter's: the arguments are put
//!   there, the derivation is unchanged).
//! - R: a package has nixpkgs' `rCommand`; a wrapper (`rWrapper.override { packages }`) has the
//!   passthru `recommendedPackages`, and its arguments are read the same way. RStudio's wrapper
//!   (`rstudioWrapper.override { packages }`) has no passthru: it is known by its `fixLibsR`
//!   attribute, and its packages are the R packages among its `buildInputs`. It stays an IDE
//!   beside R: every RStudio wrapper is made with every R package the configuration names (its
//!   own and the others'), and R's own wrapper gets the others as before.
//!
//! Every member of a family is replaced by one interpreter made with all their packages, at the
//! place of the first member (configuration order). Interpreters that differ after aliases
//! (`python3` is `python312`: the same store path) are an evaluation error naming both files.

/// The text every conflict error starts with, so the build can tell it is bad input.
pub const CONFLICT_MARK: &str = "biar: one interpreter per language";

/// The Nix text of the composition: a `let` fragment defining `compose`, a function from the
/// entries (`[ { file; pkg; } … ]`, in configuration order) to the composed entries. It needs
/// `pkgs` in scope.
pub fn composition() -> String {
    COMPOSITION.replace("@MARK@", CONFLICT_MARK)
}

const COMPOSITION: &str = r#"
  isDrv = p: builtins.isAttrs p && p ? outPath;
  key = p: builtins.unsafeDiscardStringContext (toString p.outPath);
  sameDrv = a: b: key a == key b;
  firstOf = pred: list: builtins.head (builtins.filter pred list ++ [ null ]);

  # Reads the arguments an overridable wrapper was made with, by overriding it so that a
  # passthru attribute carries them (nothing is built or changed).
  python = rec {
    name = "Python";
    isInterpreterLike = p: isDrv p && p ? withPackages && p ? pythonVersion;
    isEnv = p: isInterpreterLike p && p ? python && isDrv p.python && !(sameDrv p p.python);
    isModule = p: isDrv p && p ? pythonModule && isDrv p.pythonModule && !(isInterpreterLike p);
    isMember = p: isModule p || isInterpreterLike p;
    interpreterOf = p: if isModule p then p.pythonModule else if isEnv p then p.python else p;
    libsOf = e:
      if e ? override then
        (e.override (a: {
          python = a.python // {
            passthru = (a.python.passthru or { }) // { biarExtraLibs = a.extraLibs or [ ]; };
          };
        })).biarExtraLibs or [ ]
      else [ ];
    make = interp: firstEnv: libs:
      if firstEnv != null then firstEnv.override (a: { extraLibs = libs; })
      else interp.withPackages (_: libs);
  };

  r = rec {
    name = "R";
    isWrapper = p: isDrv p && p ? recommendedPackages && p ? override;
    isModule = p: isDrv p && p ? rCommand && !(isWrapper p);
    isMember = p: isModule p || isWrapper p;
    wrapperArg = w: f: (w.override (a: { recommendedPackages = f a; })).recommendedPackages;
    defaultWrapper = pkgs.rWrapper;
    interpreterOf = p: builtins.head (wrapperArg (if isWrapper p then p else defaultWrapper) (a: [ a.R ]));
    isEnv = isWrapper;
    libsOf = w: wrapperArg w (a: a.packages or [ ]);
    make = interp: firstEnv: libs:
      (if firstEnv != null then firstEnv else defaultWrapper).override (a: { packages = libs; });
  };

  rstudio = rec {
    isWrapper = p: isDrv p && p ? fixLibsR && p ? override && p ? buildInputs;
    libsOf = w: builtins.filter r.isModule w.buildInputs;
    make = w: libs: w.override (a: { packages = libs; });
  };

  # Every RStudio wrapper gets every R package named anywhere (R's wrapper is composed after).
  composeRstudio = entries:
    let
      studios = builtins.filter (e: rstudio.isWrapper e.pkg) entries;
      rMembers = builtins.filter (e: r.isMember e.pkg) entries;
      libs = uniqueDrvs (builtins.concatMap (e: rstudio.libsOf e.pkg) studios
        ++ builtins.concatMap (e: if r.isWrapper e.pkg then r.libsOf e.pkg else [ e.pkg ]) rMembers);
    in
    if studios == [ ] then entries
    else map (e: if rstudio.isWrapper e.pkg then e // { pkg = rstudio.make e.pkg libs; } else e) entries;

  uniqueDrvs = drvs:
    (builtins.foldl'
      (acc: d: if acc.seen ? ${key d} then acc
        else { seen = acc.seen // { ${key d} = true; }; out = acc.out ++ [ d ]; })
      { seen = { }; out = [ ]; }
      drvs).out;

  # One family: every member replaced by one interpreter made with all their packages.
  composeFamily = fam: entries:
    let
      members = builtins.filter (e: fam.isMember e.pkg) entries;
      first = builtins.head members;
      interpOf = e: fam.interpreterOf e.pkg;
      interp = interpOf first;
      other = firstOf (e: !(sameDrv (interpOf e) interp)) members;
      envs = builtins.filter (e: fam.isEnv e.pkg) members;
      modules = builtins.filter (e: fam.isModule e.pkg) members;
      libs = uniqueDrvs (builtins.concatMap (e: fam.libsOf e.pkg) envs ++ map (e: e.pkg) modules);
      combined =
        if modules == [ ] && builtins.length envs == 1 then (builtins.head envs).pkg
        else if modules == [ ] && envs == [ ] then interp
        else fam.make interp (if envs == [ ] then null else (builtins.head envs).pkg) libs;
      isBareInterp = e: isDrv e.pkg && sameDrv e.pkg interp;
      rest = builtins.filter (e: !(fam.isMember e.pkg) && !(isBareInterp e)) entries;
      before = builtins.filter (e: e != null) (builtins.genList
        (i: let e = builtins.elemAt entries i; in if e.pos < first.pos && !(isBareInterp e) then e else null)
        (builtins.length entries));
    in
    if members == [ ] then entries
    else if other != null then
      throw ("@MARK@: ${first.file} asks for ${interp.name or "?"} (${first.pkg.name or "?"}) but "
        + "${other.file} asks for ${(interpOf other).name or "?"} (${other.pkg.name or "?"}); "
        + "one ${fam.name} per environment: make both name the same version")
    else
      before ++ [ (first // { pkg = combined; }) ]
        ++ builtins.filter (e: e.pos > first.pos) rest;

  compose = entries0:
    let
      entries = builtins.genList (i: (builtins.elemAt entries0 i) // { pos = i; }) (builtins.length entries0);
    in
    composeFamily r (composeRstudio (composeFamily python entries));
"#;
